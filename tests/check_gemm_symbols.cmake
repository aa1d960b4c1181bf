# Checks that the objects of kernels/src/gemm_isa.cpp built for wider instruction sets define
# no weak symbol outside their own Eigen namespace: such a symbol could be the copy the linker
# keeps for the whole program and run on a CPU without those instructions.
#   cmake -DNM=<nm> -DOBJDUMP=<objdump> -DOBJECTS=<a.o|b.o|...> -P check_gemm_symbols.cmake
# Mangled names (no -C): demangled ones hold brackets, which CMake lists do not split on.
# Two kinds of weak symbol may lie outside the namespace, as they cannot run wide instructions:
#  - data the compiler emits beside the code: DW.ref.* (pointers to the exception personality
#    routine) and typeinfo (_ZTI*, _ZTS*: UBSan's function checks want those of function types);
#  - a function declared before the target pragma, hence baseline code, that a sanitizer build
#    emits out of line (std::bad_alloc's constructor under clang's ASan); its disassembly is
#    checked to hold no AVX instruction.
string(REPLACE "|" ";" objects "${OBJECTS}")

# Sets `result` to TRUE when function `name` of `object` uses AVX or AVX-512 (VEX/EVEX
# mnemonics, ymm/zmm registers, AVX-512 mask registers).
function(uses_avx object name result)
  # CMake picks llvm-objdump under clang, whose flag is spelt differently from GNU objdump's.
  if(OBJDUMP MATCHES "llvm-objdump")
    set(only "--disassemble-symbols=${name}")
  else()
    set(only "--disassemble=${name}")
  endif()
  execute_process(COMMAND ${OBJDUMP} -d ${only} ${object}
                  OUTPUT_VARIABLE listing RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${OBJDUMP} failed on ${object}")
  endif()
  if(listing MATCHES "\tv[a-z0-9]+[ \t]|%[yz]mm|%k[0-7]")
    set(${result} TRUE PARENT_SCOPE)
  else()
    set(${result} FALSE PARENT_SCOPE)
  endif()
endfunction()

set(failures "")
foreach(object IN LISTS objects)
  execute_process(COMMAND ${NM} --defined-only ${object}
                  OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${object}")
  endif()
  string(REPLACE "\n" ";" lines "${symbols}")
  set(weak 0)
  foreach(line IN LISTS lines)
    # nm's types: W/w are weak functions, V/v weak objects, u GNU unique objects (also merged
    # across objects).
    if(line MATCHES "^[0-9a-f]* ([WwVvu]) (.*)$")
      set(type "${CMAKE_MATCH_1}")  # the next MATCHES overwrites CMAKE_MATCH_*
      set(name "${CMAKE_MATCH_2}")
      math(EXPR weak "${weak} + 1")
      if(name MATCHES "dude_eigen_")
        continue()
      endif()
      if(type MATCHES "[Vvu]")
        if(NOT name MATCHES "^DW\\.ref\\." AND NOT name MATCHES "^_ZT[IS]")
          string(APPEND failures "${object}: ${name} (data)\n")
        endif()
      else()
        uses_avx(${object} ${name} wide)
        if(wide)
          string(APPEND failures "${object}: ${name} (a function with AVX instructions)\n")
        endif()
      endif()
    endif()
  endforeach()
  message(STATUS "${object}: ${weak} weak symbols")
endforeach()
if(failures)
  message(FATAL_ERROR "weak symbols outside the renamed Eigen namespace:\n${failures}")
endif()

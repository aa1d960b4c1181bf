# Checks that the objects of kernels/src/gemm_isa.cpp built for wider instruction sets define
# no weak symbol outside their own Eigen namespace: such a symbol could be the copy the linker
# keeps for the whole program and run on a CPU without those instructions.
#   cmake -DNM=<nm> -DOBJECTS=<a.o|b.o|...> -P check_gemm_symbols.cmake
# Mangled names (no -C): demangled ones hold brackets, which CMake lists do not split on.
string(REPLACE "|" ";" objects "${OBJECTS}")
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
    # nm's types: W/w and V/v are weak, u is GNU unique (also merged across objects).
    if(line MATCHES "^[0-9a-f]* [WwVvu] (.*)$")
      set(name "${CMAKE_MATCH_1}")  # the next MATCHES overwrites CMAKE_MATCH_1
      math(EXPR weak "${weak} + 1")
      # DW.ref.* are data words pointing at the exception personality routine, not code.
      if(NOT name MATCHES "dude_eigen_" AND NOT name MATCHES "^DW\\.ref\\.")
        string(APPEND failures "${object}: ${name}\n")
      endif()
    endif()
  endforeach()
  message(STATUS "${object}: ${weak} weak symbols")
endforeach()
if(failures)
  message(FATAL_ERROR "weak symbols outside the renamed Eigen namespace:\n${failures}")
endif()

# Writes OUTPUT: one CTest test per seeded bug that `EXECUTABLE --list` names. Each passes only
# when Relacy finds the failure its weakened memory order must cause (model_check.cpp).
execute_process(COMMAND ${EXECUTABLE} --list OUTPUT_VARIABLE names RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${EXECUTABLE} --list failed: ${result}")
endif()
string(STRIP "${names}" names)
string(REPLACE "\n" ";" names "${names}")
set(tests "")
foreach(name IN LISTS names)
  string(APPEND tests "add_test([[model_check:${name}]] [[${EXECUTABLE}]] [[${name}]])\n"
         "set_tests_properties([[model_check:${name}]] PROPERTIES LABELS model-check TIMEOUT 60)\n")
endforeach()
file(WRITE ${OUTPUT} "${tests}")

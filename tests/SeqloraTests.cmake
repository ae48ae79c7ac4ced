# Helpers shared by the test areas.
#
# seqlora_c_test(NAME SOURCES... LIBS ...): a C unit test executable registered with ctest (label "unit").
# seqlora_script_test(NAME SCRIPT [LABELS ...]): a shell/python test run with the environment below.
#
# Every test sees: SEQLORA_BIN (the built CLI), SEQLORA_SOURCE_DIR, SEQLORA_TEST_DATA (tests/data),
# SEQLORA_PYTHON (the venv's python with torch/transformers/peft, from scripts/install-deps.sh test),
# and a private TMPDIR-like folder via SEQLORA_TEST_TMP (under the build tree).
#
# Tests outside tests/cuda run with SEQLORA_CUDA_MODULE=none: they check the CPU engine (byte-identity across
# thread counts and resumes), which `--device auto` would otherwise replace by a GPU on a machine that has one.
# tests/cuda clears SEQLORA_TEST_CUDA_MODULE in its own scope and chooses the module per test.
set(SEQLORA_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH "Python with the peer libraries")
set(SEQLORA_TEST_CUDA_MODULE "none")
function(seqlora_test_env name)
  set(tmp ${CMAKE_BINARY_DIR}/test-tmp/${name})
  set(env "SEQLORA_BIN=$<TARGET_FILE:seqlora>;SEQLORA_SOURCE_DIR=${CMAKE_SOURCE_DIR};SEQLORA_TEST_DATA=${CMAKE_SOURCE_DIR}/tests/data;SEQLORA_PYTHON=${SEQLORA_PYTHON};SEQLORA_TEST_TMP=${tmp};SEQLORA_LOG=info")
  if(SEQLORA_TEST_CUDA_MODULE)
    list(APPEND env "SEQLORA_CUDA_MODULE=${SEQLORA_TEST_CUDA_MODULE}")
  endif()
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${env}")
endfunction()

function(seqlora_c_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/src)
  add_test(NAME ${name} COMMAND ${name})
  seqlora_test_env(${name})
  set_tests_properties(${name} PROPERTIES LABELS "unit;${T_LABELS}")
endfunction()

function(seqlora_script_test name script)
  cmake_parse_arguments(T "" "TIMEOUT" "LABELS;ARGS" ${ARGN})
  if(script MATCHES "\\.py$")
    add_test(NAME ${name} COMMAND ${SEQLORA_PYTHON} ${script} ${T_ARGS})
  else()
    add_test(NAME ${name} COMMAND bash ${script} ${T_ARGS})
  endif()
  seqlora_test_env(${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "integration;${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()

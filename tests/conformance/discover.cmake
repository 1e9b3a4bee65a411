# Run by CTest (through TEST_INCLUDE_FILES) for one run of the suite (a stage, or the relay):
# lists the suite's cases and registers one test per case. The variables come from
# evloop_conformance_run().

set(_labels "${EVLOOP_LABELS}")

# A missing binary becomes one failing test that says what to build, rather than a
# silently empty run.
function(_evloop_broken what)
  set(_name "${EVLOOP_PREFIX}/conformance: ${what}${EVLOOP_SUFFIX}")
  add_test("${_name}" "${EVLOOP_CMAKE}" "-DMESSAGE=${what}" -P "${EVLOOP_FAIL_SCRIPT}")
  set_tests_properties("${_name}" PROPERTIES LABELS "${_labels}")
endfunction()

if(NOT EXISTS "${EVLOOP_CONFORMANCE}")
  _evloop_broken("echo-conformance is not built (${EVLOOP_BUILD})")
  return()
endif()
foreach(_needed IN LISTS EVLOOP_NEEDS)
  if(NOT EXISTS "${_needed}")
    _evloop_broken("${_needed} is not built (${EVLOOP_BUILD})")
    return()
  endif()
endforeach()

execute_process(COMMAND "${EVLOOP_CONFORMANCE}" --list-cases
                OUTPUT_VARIABLE _cases RESULT_VARIABLE _status ERROR_VARIABLE _errors TIMEOUT 60)
if(NOT _status EQUAL 0 OR _cases STREQUAL "")
  _evloop_broken("echo-conformance --list-cases failed (${_status}) ${_errors}")
  return()
endif()

# The CTest timeout is the last resort behind each case's own watchdog: generous, and
# scaled like every other bound (rounded up to a whole factor).
set(_scale 1)
if(DEFINED ENV{EVLOOP_TEST_TIME_SCALE} AND "$ENV{EVLOOP_TEST_TIME_SCALE}" MATCHES "^([0-9]+)(\\.([0-9]*))?$")
  set(_scale "${CMAKE_MATCH_1}")
  if(CMAKE_MATCH_3 MATCHES "[1-9]")
    math(EXPR _scale "${_scale} + 1")
  endif()
  if(_scale LESS 1)
    set(_scale 1)
  endif()
endif()
math(EXPR _timeout "120 * ${_scale}")
math(EXPR _slow_timeout "900 * ${_scale}")

# Cases the stage is designed to fail also get the label expected-failure, so CTest's label
# summary counts them and `ctest -L expected-failure -V` shows each one's reason.
set(_expected_args "")
set(_expected_cases "")
if(EXISTS "${EVLOOP_EXPECTED}")
  set(_expected_args --expected-failures "${EVLOOP_EXPECTED}")
  file(STRINGS "${EVLOOP_EXPECTED}" _expected_lines)
  foreach(_entry IN LISTS _expected_lines)
    if(_entry MATCHES "^[ \t]*([^#].*[^ \t]) -- ")
      list(APPEND _expected_cases "${CMAKE_MATCH_1}")
    endif()
  endforeach()
endif()
set(_server_args "")
if(NOT EVLOOP_SERVER_ARGS STREQUAL "")
  set(_server_args -- ${EVLOOP_SERVER_ARGS})
endif()

string(REPLACE "\n" ";" _lines "${_cases}")
foreach(_line IN LISTS _lines)
  if(_line STREQUAL "")
    continue()
  endif()
  set(_case_labels "${_labels}")
  set(_case_timeout ${_timeout})
  set(_case_serial FALSE)
  # Markers after the name: [slow] (label slow, a longer timeout) and [serial] (a latency
  # or CPU bound: CTest runs the case with nothing else beside it).
  while(_line MATCHES "^(.*) \\[([a-z]+)\\]$")
    set(_line "${CMAKE_MATCH_1}")
    if(CMAKE_MATCH_2 STREQUAL "slow")
      list(APPEND _case_labels slow)
      set(_case_timeout ${_slow_timeout})
    elseif(CMAKE_MATCH_2 STREQUAL "serial")
      set(_case_serial TRUE)
    endif()
  endwhile()
  # list(FIND), not if(IN_LIST): CTest reads this file without the project's policies.
  list(FIND _expected_cases "${_line}" _expected_index)
  if(NOT _expected_index EQUAL -1)
    list(APPEND _case_labels expected-failure)
  endif()
  set(_name "${EVLOOP_PREFIX}/${_line}${EVLOOP_SUFFIX}")
  add_test("${_name}" "${EVLOOP_CONFORMANCE}" --server "${EVLOOP_SERVER}" ${_expected_args} --case "${_line}"
           ${EVLOOP_SUITE_ARGS} ${_server_args})
  set_tests_properties("${_name}" PROPERTIES LABELS "${_case_labels}" TIMEOUT ${_case_timeout}
                                             RUN_SERIAL ${_case_serial})
  if(NOT EVLOOP_SKIP_WHEN STREQUAL "")
    set_tests_properties("${_name}" PROPERTIES SKIP_REGULAR_EXPRESSION "${EVLOOP_SKIP_WHEN}")
  endif()
endforeach()

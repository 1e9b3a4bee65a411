# Proves stage 05's skip path on a machine that has io_uring: with its system calls refused
# by a seccomp filter (without-io-uring), as a container's profile refuses them,
#  1. stage05-echo exits 1 with one line on stderr that names the cause and how to check it;
#  2. the stage's whole suite, registered by the same discover.cmake as the real one, runs in
#     a CTest directory of its own: nothing fails, every case that needs the server running
#     is reported skipped (the others: usage errors and declared failures the server refuses
#     before it asks for io_uring, still pass), and a skipped case's output carries the line.
#
#   cmake -DCTEST=<ctest> -DSCRIPT=<registration script> -DWRAPPER=<without-io-uring>
#         -DSERVER=<stage05-echo> -DSKIP=<regex> -DEXPECTED=<expected-failures.txt>
#         -DWORK=<scratch dir> -P skip_check.cmake
cmake_minimum_required(VERSION 3.25)

# 1. The server's own words, and its exit status.
execute_process(COMMAND "${WRAPPER}" "${SERVER}" --listen tcp://127.0.0.1:0
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 20)
if(err MATCHES "cannot install a seccomp filter")
  message("${err}")  # the test's SKIP_REGULAR_EXPRESSION reports it skipped
  return()
endif()
string(REGEX REPLACE "\n$" "" line "${err}")
if(NOT rc EQUAL 1 OR NOT out STREQUAL "" OR line MATCHES "\n")
  message(FATAL_ERROR "refused io_uring, stage05-echo should exit 1 with one line on stderr and nothing on "
                      "stdout; it gave status ${rc}, stdout '${out}', stderr:\n${err}")
endif()
if(NOT line MATCHES "${SKIP}" OR NOT line MATCHES "seccomp" OR NOT line MATCHES "check: ")
  message(FATAL_ERROR "the refusal line should match '${SKIP}', name seccomp and say how to check; got:\n${line}")
endif()
message(STATUS "ok: exit 1 with one line: ${line}")

# 2. The suite, as CTest reports it.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(WRITE "${WORK}/CTestTestfile.cmake" "include([==[${SCRIPT}]==])\n")
execute_process(COMMAND "${CTEST}" --test-dir "${WORK}" -j2 --no-label-summary
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REGEX MATCHALL "\n[ 0-9]+/[ 0-9]+ Test +#[0-9]+: [^\n]*" results "${out}")
set(passed 0)
set(skipped 0)
set(other "")
foreach(result IN LISTS results)
  if(result MATCHES "[*][*][*]Skipped")
    math(EXPR skipped "${skipped} + 1")
  elseif(result MATCHES " Passed +[0-9.]+ sec$")
    math(EXPR passed "${passed} + 1")
    string(REGEX REPLACE "^.*Test +#[0-9]+: (.*[^ .]) *[.]* +Passed.*$" "\\1" name "${result}")
    list(APPEND passed_names "${name}")
  else()
    string(APPEND other "${result}")
  endif()
endforeach()
list(LENGTH results total)
if(total EQUAL 0 OR NOT other STREQUAL "" OR NOT rc EQUAL 0)
  message(FATAL_ERROR "refused io_uring, no stage 05 case may fail (ctest exit ${rc}):${other}\n${out}${err}")
endif()
# Only cases that never need the server running may pass: the server refuses bad arguments
# (exit 2) before it asks for io_uring, so the usage cases still pass, and so do the declared
# failures whose options or addresses it refuses. Every other case must be skipped.
file(STRINGS "${EXPECTED}" expected_lines)
set(unexplained "")
foreach(name IN LISTS passed_names)
  string(REGEX REPLACE "^stage[0-9]+/(.*) \\[[^]]*\\]$" "\\1" case "${name}")
  set(declared FALSE)
  foreach(entry IN LISTS expected_lines)
    string(FIND "${entry}" "${case} -- " at)
    if(at EQUAL 0)
      set(declared TRUE)
    endif()
  endforeach()
  if(NOT declared AND NOT case MATCHES " exits 2 ")
    string(APPEND unexplained "\n  ${name}")
  endif()
endforeach()
if(skipped EQUAL 0 OR NOT unexplained STREQUAL "")
  message(FATAL_ERROR "${skipped} of ${total} cases were skipped; these passed without io_uring, and "
                      "they need it:${unexplained}")
endif()
message(STATUS "ok: ${skipped} of ${total} cases skipped; ${passed} passed, each a usage case or a declared "
               "failure the server refuses before it asks for io_uring:")
foreach(name IN LISTS passed_names)
  message(STATUS "     ${name}")
endforeach()

# A skipped case says why.
execute_process(COMMAND "${CTEST}" --test-dir "${WORK}" -R "basic: one line is echoed" -V
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT out MATCHES "[*][*][*]Skipped" OR NOT out MATCHES "${SKIP}")
  message(FATAL_ERROR "a skipped case should show as skipped with the server's line:\n${out}${err}")
endif()
message(STATUS "ok: a skipped case shows the server's line")

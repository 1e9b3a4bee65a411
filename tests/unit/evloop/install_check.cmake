# Installs evloop into a fresh prefix, then configures, builds and runs the consumer
# project against it with find_package(evloop), as a user outside this tree would.
# Variables: BUILD_DIR, CONSUMER_DIR, WORK_DIR, CXX, BUILD_TYPE, SANITIZER.
file(REMOVE_RECURSE "${WORK_DIR}")
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  message(STATUS "${out}")
endfunction()
set(flags "")
if(SANITIZER STREQUAL "address")
  set(flags "-fsanitize=address,undefined")
elseif(SANITIZER STREQUAL "thread")
  set(flags "-fsanitize=thread")
endif()
step("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix" --component evloop)
if(NOT EXISTS "${WORK_DIR}/prefix/include/evloop/evloop.hpp")
  message(FATAL_ERROR "the header was not installed")
endif()
step("${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build" "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix"
     "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}" "-DCMAKE_CXX_FLAGS=${flags}"
     "-DCMAKE_EXE_LINKER_FLAGS=${flags}")
step("${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
step("${WORK_DIR}/build/evloop-consumer")

# Stage 04's fuzz targets: the connection buffer and the timer heap, each checked against
# a plain standard-library model. Included by CMakeLists.txt when stage 04 is built.
if(TARGET evloop::internal)
  evloop_fuzz_target(buffer LIBRARIES evloop::internal)
  evloop_fuzz_target(timer LIBRARIES evloop::internal)
  foreach(target fuzz-buffer-replay fuzz-timer-replay fuzz-buffer fuzz-timer)
    if(TARGET ${target})
      target_include_directories(${target} PRIVATE ${EVLOOP_INTERNAL_INCLUDE_DIRS})
    endif()
  endforeach()
endif()

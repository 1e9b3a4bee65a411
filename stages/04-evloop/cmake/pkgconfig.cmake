# evloop.pc, installed beside the CMake package: `pkg-config --cflags --libs evloop`.
#
# The prefix is found from where the file lies (${pcfiledir}), so the installed tree can be
# moved, or installed with `cmake --install --prefix` elsewhere than it was configured for, as
# the CMake package can. What the library itself links with goes in Libs for a static
# library, which carries no dependencies of its own, and in Libs.private for a shared one.
set(evloop_pc_deps "")
if(CMAKE_THREAD_LIBS_INIT)
  string(APPEND evloop_pc_deps " ${CMAKE_THREAD_LIBS_INIT}")
endif()
if(evloop_kqueue_lib)
  string(APPEND evloop_pc_deps " ${evloop_kqueue_lib}")
endif()
set(evloop_pc_libs "")
set(evloop_pc_private "")
if(BUILD_SHARED_LIBS AND evloop_pc_deps)
  set(evloop_pc_private "\nLibs.private:${evloop_pc_deps}")
elseif(evloop_pc_deps)
  set(evloop_pc_libs "${evloop_pc_deps}")
endif()

set(evloop_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${evloop_pc_dir}")
  set(evloop_pc_prefix "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH evloop_pc_up "/prefix/${evloop_pc_dir}" "/prefix")
  string(REGEX REPLACE "/$" "" evloop_pc_up "${evloop_pc_up}")
  set(evloop_pc_prefix "\${pcfiledir}/${evloop_pc_up}")
endif()
foreach(kind libdir includedir)
  string(TOUPPER "${kind}" upper)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${upper}}")
    set(evloop_pc_${kind} "${CMAKE_INSTALL_${upper}}")
  else()
    set(evloop_pc_${kind} "\${prefix}/${CMAKE_INSTALL_${upper}}")
  endif()
endforeach()

configure_file(${CMAKE_CURRENT_LIST_DIR}/evloop.pc.in ${CMAKE_CURRENT_BINARY_DIR}/evloop.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/evloop.pc DESTINATION ${evloop_pc_dir} COMPONENT evloop)

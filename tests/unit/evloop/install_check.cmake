# The installed library, used from outside the tree as a user would (cmake -P).
#
#   STEP=install      installs BUILD_DIR's evloop into WORK_DIR/prefix and checks what is there: the
#                     headers (evloop.hpp, version.hpp, export.hpp), the library, the CMake
#                     package, evloop.pc with the project's version, the LICENSE; for a shared
#                     library also its soname, and that it exports only the public API. With
#                     REBUILD=static|shared it first builds the library from SOURCE_DIR that way
#                     (BUILD_SHARED_LIBS, tests off) and installs that build instead.
#   STEP=find_package builds and runs the consumer project against that prefix with find_package.
#   STEP=pkg-config   compiles and runs the consumer with `pkg-config --cflags --libs evloop`.
#   INSTALL=ON        a consumer step installs (and checks) BUILD_DIR's evloop first.
#
# Other variables: KIND (static|shared: what BUILD_DIR holds), CONSUMER_DIR, WORK_DIR, CXX,
# BUILD_TYPE, SANITIZER, VERSION, SOVERSION.
cmake_minimum_required(VERSION 3.25)

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  message(STATUS "${out}")
endfunction()

# What a tool prints, for checks on it.
function(capture var)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}${err}")
  endif()
  set(${var} "${out}" PARENT_SCOPE)
endfunction()

set(flags "")
if(SANITIZER STREQUAL "address")
  set(flags -fsanitize=address,undefined)
elseif(SANITIZER STREQUAL "thread")
  set(flags -fsanitize=thread)
endif()
set(elf OFF)
if(CMAKE_HOST_SYSTEM_NAME STREQUAL "Linux")
  set(elf ON)
endif()

# The lib directory of an installed prefix: where evloop.pc is, one level up.
function(find_libdir var)
  file(GLOB_RECURSE pc "${PREFIX}/*/pkgconfig/evloop.pc")
  if(NOT pc)
    message(FATAL_ERROR "no pkgconfig/evloop.pc under ${PREFIX}")
  endif()
  get_filename_component(dir "${pc}" DIRECTORY)
  get_filename_component(dir "${dir}" DIRECTORY)
  set(${var} "${dir}" PARENT_SCOPE)
endfunction()

set(PREFIX "${WORK_DIR}/prefix")

# Installs the evloop built in `from` into PREFIX and checks the installed tree.
function(install_and_check from)
  file(REMOVE_RECURSE "${PREFIX}")
  step("${CMAKE_COMMAND}" --install "${from}" --prefix "${PREFIX}" --component evloop)
  find_libdir(libdir)
  foreach(file include/evloop/evloop.hpp include/evloop/version.hpp include/evloop/export.hpp
               share/doc/evloop/LICENSE)
    if(NOT EXISTS "${PREFIX}/${file}")
      message(FATAL_ERROR "${file} was not installed")
    endif()
  endforeach()
  if(NOT EXISTS "${libdir}/cmake/evloop/evloopConfig.cmake")
    message(FATAL_ERROR "the CMake package was not installed in ${libdir}/cmake/evloop")
  endif()
  file(STRINGS "${libdir}/pkgconfig/evloop.pc" pc_version REGEX "^Version: ")
  if(NOT pc_version STREQUAL "Version: ${VERSION}")
    message(FATAL_ERROR "evloop.pc says '${pc_version}', the project is ${VERSION}")
  endif()
  if(KIND STREQUAL "static")
    if(NOT EXISTS "${libdir}/libevloop.a")
      message(FATAL_ERROR "no libevloop.a in ${libdir}")
    endif()
  elseif(elf)
    set(real "${libdir}/libevloop.so.${VERSION}")
    foreach(file "${real}" "${libdir}/libevloop.so.${SOVERSION}" "${libdir}/libevloop.so")
      if(NOT EXISTS "${file}")
        message(FATAL_ERROR "${file} was not installed")
      endif()
    endforeach()
    capture(dynamic readelf -d "${real}")
    if(NOT dynamic MATCHES "Library soname: \\[libevloop\\.so\\.${SOVERSION}\\]")
      message(FATAL_ERROR "libevloop.so's soname is not libevloop.so.${SOVERSION}:\n${dynamic}")
    endif()
    # Only the public API: every symbol it defines for others is evloop's, outside
    # evloop::detail, or a standard-library template the public API instantiates (those are
    # weak and shared with the program's own copies). The internals and common's parser stay
    # hidden.
    capture(symbols nm -D --defined-only -C "${real}")
    string(REPLACE "\n" ";" symbols "${symbols}")
    set(exported "")
    foreach(line IN LISTS symbols)
      if(line MATCHES "^[0-9a-f]+ ([A-Za-z]) (.*)$")
        set(type "${CMAKE_MATCH_1}")
        set(name "${CMAKE_MATCH_2}")
        if(name MATCHES "evloop::detail::|common::" OR (NOT name MATCHES "evloop::" AND type MATCHES "[TDBR]"))
          message(FATAL_ERROR "libevloop.so exports ${name} (${type}), which is not the public API")
        endif()
        if(name MATCHES "^evloop::")
          string(APPEND exported "  ${name}\n")
        endif()
      endif()
    endforeach()
    foreach(must "evloop::version()" "evloop::Server::serve(" "evloop::Conn::write(" "evloop::Handle::write(")
      string(FIND "${exported}" "${must}" at)
      if(at EQUAL -1)
        message(FATAL_ERROR "libevloop.so does not export ${must}; it exports:\n${exported}")
      endif()
    endforeach()
    message(STATUS "libevloop.so.${SOVERSION} exports:\n${exported}")
  endif()
endfunction()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE "${WORK_DIR}")
  set(from "${BUILD_DIR}")
  if(REBUILD)
    set(shared OFF)
    if(REBUILD STREQUAL "shared")
      set(shared ON)
    endif()
    set(from "${WORK_DIR}/library")
    step("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${from}" -DBUILD_SHARED_LIBS=${shared} -DBUILD_TESTING=OFF
         "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}" "-DEVLOOP_SANITIZER=${SANITIZER}")
    step("${CMAKE_COMMAND}" --build "${from}" --target evloop --parallel 2)
  endif()
  install_and_check("${from}")
  return()
endif()

if(INSTALL)
  file(REMOVE_RECURSE "${WORK_DIR}")
  install_and_check("${BUILD_DIR}")
endif()
find_libdir(libdir)
set(work "${WORK_DIR}/${STEP}")
file(REMOVE_RECURSE "${work}")
if(STEP STREQUAL "find_package")
  string(REPLACE ";" " " flag_text "${flags}")
  step("${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${work}" "-DCMAKE_PREFIX_PATH=${PREFIX}"
       "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}" "-DCMAKE_CXX_FLAGS=${flag_text}"
       "-DCMAKE_EXE_LINKER_FLAGS=${flag_text}")
  step("${CMAKE_COMMAND}" --build "${work}")
  set(program "${work}/evloop-consumer")
elseif(STEP STREQUAL "pkg-config")
  find_program(pkg_config NAMES pkg-config pkgconf)
  if(NOT pkg_config)
    message(FATAL_ERROR "SKIPPED: pkg-config is not installed (apt-get install -y pkgconf; brew install pkgconf)")
  endif()
  set(ENV{PKG_CONFIG_PATH} "${libdir}/pkgconfig")
  capture(pc_flags "${pkg_config}" --cflags --libs evloop)
  capture(pc_version "${pkg_config}" --modversion evloop)
  string(STRIP "${pc_version}" pc_version)
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  file(MAKE_DIRECTORY "${work}")
  set(program "${work}/evloop-consumer")
  # As a user would type it: the compiler, the standard the header needs, pkg-config's flags.
  step("${CXX}" -std=c++17 -Wall -Wextra -Wpedantic -Werror ${flags} "-DEVLOOP_PACKAGE_VERSION=\"${pc_version}\""
       "${CONSUMER_DIR}/main.cpp" -o "${program}" ${pc_flags})
else()
  message(FATAL_ERROR "STEP must be install, find_package or pkg-config, not '${STEP}'")
endif()

if(KIND STREQUAL "shared" AND elf)
  capture(needed readelf -d "${program}")
  if(NOT needed MATCHES "Shared library: \\[libevloop\\.so\\.${SOVERSION}\\]")
    message(FATAL_ERROR "the consumer does not load libevloop.so.${SOVERSION}:\n${needed}")
  endif()
endif()
# A shared library is found the way a user's would be outside the system directories.
step("${CMAKE_COMMAND}" -E env "LD_LIBRARY_PATH=${libdir}" "DYLD_LIBRARY_PATH=${libdir}" "${program}")

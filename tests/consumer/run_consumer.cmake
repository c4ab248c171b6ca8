# Installs the build in BUILD_DIR into WORK_DIR/prefix, builds the consumer
# project in PROJECT_DIR against that prefix only (with find_package, then
# with pkg-config), and runs it. The first C++
# example of README (README_FILE) is built and run the same way, so the
# documented usage cannot rot. With SHARED_FROM=<source dir>, the library is
# first configured and built there with BUILD_SHARED_LIBS=ON (the same
# compiler flags, so ccache serves the objects), and the shared library's
# promises are checked too: a versioned SONAME, only the public API exported,
# and the consumer loading it.
# Either way the installed package must not name a path of this machine.
# Usage: cmake -DBUILD_DIR= -DWORK_DIR= -DPROJECT_DIR= -DREADME_FILE= -DGENERATOR= -DCXX=
#        [-DSHARED_FROM= -DBUILD_TYPE= -DLAUNCHER=] -P this-file
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc COMMAND_ECHO STDOUT)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package test: ${what} failed (${rc})")
  endif()
endfunction()

# A shared build left by an earlier run is kept: ninja brings it up to date.
file(GLOB old_outputs ${WORK_DIR}/*)
list(FILTER old_outputs EXCLUDE REGEX "/shared-build$")
if(old_outputs)
  file(REMOVE_RECURSE ${old_outputs})
endif()
set(prefix ${WORK_DIR}/prefix)
if(SHARED_FROM)
  set(BUILD_DIR ${WORK_DIR}/shared-build)
  set(launcher)
  if(LAUNCHER)
    set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER} -DCMAKE_C_COMPILER_LAUNCHER=${LAUNCHER})
  endif()
  step("configure shared library" ${CMAKE_COMMAND} -S ${SHARED_FROM} -B ${BUILD_DIR}
    -G ${GENERATOR} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX}
    -DBUILD_SHARED_LIBS=ON -DEMP_BUILD_TESTS=OFF -DEMP_BUILD_BENCH=OFF
    -DEMP_BUILD_EXAMPLES=OFF -DEMP_BUILD_TOOLS=OFF ${launcher})
  step("build shared library" ${CMAKE_COMMAND} --build ${BUILD_DIR})
endif()
step("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# Relocatable: nothing in the installed CMake and pkg-config files names
# this machine's library directories or the build tree.
file(GLOB_RECURSE package_text ${prefix}/*.cmake ${prefix}/*.pc)
foreach(f ${package_text})
  file(READ ${f} text)
  foreach(bad "/usr/lib" "/usr/include" "${BUILD_DIR}" "${WORK_DIR}")
    string(FIND "${text}" "${bad}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "package test: ${f} names the path ${bad}")
    endif()
  endforeach()
endforeach()

if(SHARED_FROM)
  file(GLOB shared_libs ${prefix}/*/libemp_telemetry.so.*.*.*)
  if(NOT shared_libs)
    message(FATAL_ERROR "package test: no libemp_telemetry.so.X.Y.Z under ${prefix}")
  endif()
  list(GET shared_libs 0 shared_lib)
  execute_process(COMMAND objdump -p ${shared_lib} OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
  string(REGEX MATCH "SONAME +libemp_telemetry\\.so\\.[0-9]+\\.[0-9]+\n" soname "${dyn}")
  if(NOT rc EQUAL 0 OR NOT soname)
    message(FATAL_ERROR "package test: ${shared_lib} has no versioned SONAME:\n${dyn}")
  endif()
  execute_process(COMMAND nm -DC --defined-only ${shared_lib} OUTPUT_VARIABLE exported
    RESULT_VARIABLE rc)
  # A symbol defined in an internal namespace (a public function whose
  # signature names an internal type is fine).
  string(REGEX MATCH "\n[0-9a-f]+ [A-Za-z] emp::telemetry::(core|deliver|encode|logs|sinks|forward|sentry|viewer|config|tail|otlp|doctor|trace|metrics|events|errors|instrument|client)::[^\n]*" internal "\n${exported}")
  if(NOT rc EQUAL 0 OR internal)
    message(FATAL_ERROR "package test: the shared library exports an internal symbol: ${internal}")
  endif()
  string(FIND "${exported}" "emp::telemetry::Client::create" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "package test: the shared library does not export the public API")
  endif()
  string(REGEX MATCHALL "\n" export_lines "${exported}")
  list(LENGTH export_lines export_count)
  string(REGEX REPLACE "SONAME +" "" soname "${soname}")
  string(STRIP "${soname}" soname)
  message(STATUS "package test: ${soname} exports ${export_count} symbols")
endif()
file(GLOB_RECURSE package_files ${prefix}/*/emp_telemetryConfig.cmake)
if(NOT package_files)
  message(FATAL_ERROR "package test: no emp_telemetryConfig.cmake under ${prefix}")
endif()

file(READ ${README_FILE} readme)
string(FIND "${readme}" "```cpp\n" begin)
if(begin EQUAL -1)
  message(FATAL_ERROR "package test: no ```cpp example in ${README_FILE}")
endif()
math(EXPR begin "${begin} + 7")
string(SUBSTRING "${readme}" ${begin} -1 rest)
string(FIND "${rest}" "```" end)
string(SUBSTRING "${rest}" 0 ${end} example)
file(WRITE ${WORK_DIR}/readme_example.cpp "${example}")

step("configure consumer" ${CMAKE_COMMAND} -S ${PROJECT_DIR} -B ${WORK_DIR}/build
  -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX}
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DREADME_EXAMPLE=${WORK_DIR}/readme_example.cpp)
step("build consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
step("run consumer" ${WORK_DIR}/build/app)
if(SHARED_FROM)
  execute_process(COMMAND ldd ${WORK_DIR}/build/app OUTPUT_VARIABLE deps)
  string(FIND "${deps}" "libemp_telemetry.so" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "package test: the consumer is not linked to the shared library:\n${deps}")
  endif()
endif()
step("run README example" ${CMAKE_COMMAND} -E env LOG_DIR=${WORK_DIR}/readme-logs
  TELEMETRY_ENV=development ${WORK_DIR}/build/readme_example)
# The same program built without CMake, through the installed pkg-config file.
file(GLOB_RECURSE pc_files ${prefix}/*/emp_telemetry.pc)
if(NOT pc_files)
  message(FATAL_ERROR "package test: no emp_telemetry.pc under ${prefix}")
endif()
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir ${pc_file} DIRECTORY)
get_filename_component(lib_dir ${pc_dir} DIRECTORY)
file(RELATIVE_PATH LIBDIR_NAME ${prefix} ${lib_dir})
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir}
    pkg-config --cflags --libs emp_telemetry
  RESULT_VARIABLE rc OUTPUT_VARIABLE pc_flags ERROR_VARIABLE pc_error
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "package test: pkg-config failed: ${pc_error}")
endif()
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
step("build consumer with pkg-config" ${CXX} -std=c++20 -O1 ${PROJECT_DIR}/main.cpp
  -o ${WORK_DIR}/app_pkgconfig ${pc_flags})
# -L and -l only, as pkg-config gives them: the loader is told where the
# shared library is, as a user's package manager would install it.
step("run pkg-config consumer" ${CMAKE_COMMAND} -E env
  "LD_LIBRARY_PATH=${prefix}/${LIBDIR_NAME}" ${WORK_DIR}/app_pkgconfig)
if(SHARED_FROM)
  execute_process(COMMAND ldd ${WORK_DIR}/app_pkgconfig OUTPUT_VARIABLE deps)
  string(FIND "${deps}" "libemp_telemetry.so" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "package test: the pkg-config consumer does not use the shared library")
  endif()
endif()
message(STATUS "package test: installed package found, linked and ran (CMake and pkg-config)")

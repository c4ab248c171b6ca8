# Installs the build in BUILD_DIR into WORK_DIR/prefix, builds the consumer
# project in PROJECT_DIR against that prefix only (with find_package, then
# with pkg-config), and runs it. The first C++
# example of README (README_FILE) is built and run the same way, so the
# documented usage cannot rot.
# Usage: cmake -DBUILD_DIR= -DWORK_DIR= -DPROJECT_DIR= -DREADME_FILE= -DGENERATOR= -DCXX=
#        -P this-file
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc COMMAND_ECHO STDOUT)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package test: ${what} failed (${rc})")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
step("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
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
step("run README example" ${CMAKE_COMMAND} -E env LOG_DIR=${WORK_DIR}/readme-logs
  TELEMETRY_ENV=development ${WORK_DIR}/build/readme_example)
# The same program built without CMake, through the installed pkg-config file.
file(GLOB_RECURSE pc_files ${prefix}/*/emp_telemetry.pc)
if(NOT pc_files)
  message(FATAL_ERROR "package test: no emp_telemetry.pc under ${prefix}")
endif()
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir ${pc_file} DIRECTORY)
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
step("run pkg-config consumer" ${WORK_DIR}/app_pkgconfig)
message(STATUS "package test: installed package found, linked and ran (CMake and pkg-config)")

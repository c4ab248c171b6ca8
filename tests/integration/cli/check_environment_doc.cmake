# Fails when docs/ENVIRONMENT.md differs from `emp-telemetry env --markdown`,
# i.e. when a variable was added to or changed in the registry without
# regenerating the document (./run docs).
# Usage: cmake -DCLI=<emp-telemetry> -DDOC=<docs/ENVIRONMENT.md> -P this-file
execute_process(COMMAND ${CLI} env --markdown
  OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "`emp-telemetry env --markdown` failed (exit ${rc})")
endif()
if(NOT EXISTS ${DOC})
  message(FATAL_ERROR "${DOC} is missing: run ./run docs")
endif()
file(READ ${DOC} current)
if(NOT current STREQUAL generated)
  message(FATAL_ERROR "${DOC} is out of date with the variable registry: run ./run docs "
    "(it writes `emp-telemetry env --markdown` to docs/ENVIRONMENT.md) and commit the result")
endif()
message(STATUS "${DOC} matches the registry")

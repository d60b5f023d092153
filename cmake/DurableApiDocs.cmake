# The API reference (docs/api.md): Doxygen over the public headers, the
# ones the components list in PUBLIC_HEADERS (DURABLE_PUBLIC_HEADERS,
# cmake/DurableHelpers.cmake), so it documents exactly what is installed.
# Included at the end of the top-level CMakeLists, once every component
# has added its headers.
#
#   cmake --build build --target api-docs   ->  build/api-docs/html
#
# An undocumented public entity, or any other Doxygen warning, fails the
# target (scripts/api-docs.sh prints them). Without doxygen the target
# still exists and fails, saying how to install it: a missing tool should
# not look like a missing target.
find_package(Doxygen QUIET)

get_property(durable_api_entries GLOBAL PROPERTY DURABLE_PUBLIC_HEADERS)
set(durable_api_input "")
set(durable_api_include_roots "")
foreach(entry IN LISTS durable_api_entries)
  # "<absolute path>|<directory relative to the component's folder>"
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 header)
  list(GET parts 1 dir)
  string(APPEND durable_api_input " \\\n    \"${header}\"")
  # The component's folder: what users' include paths start from, so the
  # reference shows `#include "durable/..."`.
  get_filename_component(root "${header}" DIRECTORY)
  string(LENGTH "${root}" root_length)
  string(LENGTH "/${dir}" dir_length)
  math(EXPR keep "${root_length} - ${dir_length}")
  string(SUBSTRING "${root}" 0 ${keep} root)
  list(APPEND durable_api_include_roots "${root}")
endforeach()
list(REMOVE_DUPLICATES durable_api_include_roots)
list(JOIN durable_api_include_roots "\" \"" durable_api_include_roots)
set(DURABLE_API_INPUT "${durable_api_input}")
set(DURABLE_API_INCLUDE_ROOTS "\"${durable_api_include_roots}\"")
set(DURABLE_API_OUTPUT "${CMAKE_CURRENT_BINARY_DIR}/api-docs")

set(durable_doxyfile "${CMAKE_CURRENT_BINARY_DIR}/Doxyfile")
configure_file("${CMAKE_CURRENT_SOURCE_DIR}/docs/Doxyfile.in"
  "${durable_doxyfile}" @ONLY)

if(DOXYGEN_FOUND)
  add_custom_target(api-docs
    COMMAND ${CMAKE_COMMAND} -E make_directory "${DURABLE_API_OUTPUT}"
    COMMAND Doxygen::doxygen "${durable_doxyfile}"
    WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
    COMMENT "Generating the API reference in ${DURABLE_API_OUTPUT}/html"
    VERBATIM)
else()
  add_custom_target(api-docs
    COMMAND ${CMAKE_COMMAND} -E echo
      "api-docs: doxygen not found; install it (scripts/setup.sh docs) and reconfigure"
    COMMAND ${CMAKE_COMMAND} -E false
    VERBATIM)
endif()

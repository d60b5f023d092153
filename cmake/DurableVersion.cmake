# Writes OUT, the definition of durable::version(), from VERSION and what
# `git describe` says of SOURCE_DIR now. Run at every build (cmake -P): the
# file changes, and one source recompiles, only when the description does.
set(text "${VERSION}")
find_program(git git)
if(git)
  execute_process(COMMAND ${git} describe --always --dirty
    WORKING_DIRECTORY ${SOURCE_DIR}
    OUTPUT_VARIABLE describe OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0 AND NOT describe STREQUAL "")
    set(text "${VERSION} (${describe})")
  endif()
endif()
file(WRITE ${OUT}.tmp
  "#include \"durable/version.hpp\"\n\n"
  "std::string_view durable::version() noexcept {\n"
  "  return \"${text}\";\n"
  "}\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
file(REMOVE ${OUT}.tmp)

# Warnings every durable target compiles with.
function(durable_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(DURABLE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# durable_add_component(<name> ALIAS <alias> SOURCES ... DEPS ...)
# One library per top-level folder; headers are included as
# "durable/<module>/<file>.hpp" from the folder itself.
function(durable_add_component name)
  cmake_parse_arguments(ARG "" "ALIAS" "SOURCES;DEPS" ${ARGN})
  add_library(${name} ${ARG_SOURCES})
  add_library(${ARG_ALIAS} ALIAS ${name})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  durable_set_warnings(${name})
endfunction()

# durable_link_allocator(<program>)
# Links a program against jemalloc unless DURABLE_JEMALLOC is OFF.
function(durable_link_allocator target)
  if(DURABLE_JEMALLOC)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
  endif()
endfunction()

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

# durable_discover_tests(<exe> PREFIX <prefix> TIER <label> TIMEOUT <s>)
# Registers every doctest case of <exe> with CTest as "<prefix><case>",
# labelled with the tier and its TEST_SUITE name, and adds <exe> to the
# build target tier-<label>. A tier's tests exist only once its executables
# are built: build its tier target (not a hand-kept list of executables)
# before `ctest -L <label>`, so a new executable cannot be silently skipped.
function(durable_discover_tests exe)
  cmake_parse_arguments(ARG "" "PREFIX;TIER;TIMEOUT" "" ${ARGN})
  doctest_discover_tests(${exe} TEST_PREFIX "${ARG_PREFIX}" ADD_LABELS 1
    PROPERTIES LABELS ${ARG_TIER} TIMEOUT ${ARG_TIMEOUT})
  if(NOT TARGET tier-${ARG_TIER})
    add_custom_target(tier-${ARG_TIER})
  endif()
  add_dependencies(tier-${ARG_TIER} ${exe})
endfunction()

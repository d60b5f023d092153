# Warnings every durable target compiles with.
function(durable_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(DURABLE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# durable_add_component(<name> ALIAS durable::<export> SOURCES ...
#                        DEPS ... [PUBLIC_HEADERS <file>...])
# One library per top-level folder; headers are included as
# "durable/<module>/<file>.hpp" from the folder itself. The alias is the
# name users link, in the build tree and (as the exported name) in the
# installed package (docs/library.md). PUBLIC_HEADERS, paths relative to
# the folder, are the headers installed with it; a component without them
# is internal and neither installed nor exported.
function(durable_add_component name)
  cmake_parse_arguments(ARG "" "ALIAS" "SOURCES;DEPS;PUBLIC_HEADERS" ${ARGN})
  add_library(${name} ${ARG_SOURCES})
  add_library(${ARG_ALIAS} ALIAS ${name})
  string(REGEX REPLACE "^durable::" "" export_name "${ARG_ALIAS}")
  set_target_properties(${name} PROPERTIES EXPORT_NAME ${export_name})
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  # Users' code includes headers written in C++20.
  target_compile_features(${name} PUBLIC cxx_std_20)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  durable_set_warnings(${name})
  if(ARG_PUBLIC_HEADERS)
    foreach(header IN LISTS ARG_PUBLIC_HEADERS)
      get_filename_component(dir "${header}" DIRECTORY)
      set_property(GLOBAL APPEND PROPERTY DURABLE_PUBLIC_HEADERS
        "${CMAKE_CURRENT_SOURCE_DIR}/${header}|${dir}")
    endforeach()
    set_property(GLOBAL APPEND PROPERTY DURABLE_EXPORTED_TARGETS ${name})
  endif()
endfunction()

# durable_link_allocator(<program>)
# Links a program against jemalloc unless DURABLE_WITH_JEMALLOC is OFF.
function(durable_link_allocator target)
  if(DURABLE_WITH_JEMALLOC)
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

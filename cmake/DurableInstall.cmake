# durable's install rules and CMake package (docs/library.md).
#
# `cmake --install` puts into the prefix: the public headers (each
# component's PUBLIC_HEADERS, durable_add_component()), the libraries of
# every component built, durableConfig.cmake with its version file, the
# exported targets durable::<name>, FindCAF.cmake (Debian's CAF has no
# package config), durable.pc, the operator's programs and the license.
# Each rule names its component, the Debian package it goes to
# (cmake/DurablePackaging.cmake): dev (libdurable-dev) or runtime
# (durable).
include(CMakePackageConfigHelpers)

set(DURABLE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/durable)

get_property(durable_targets GLOBAL PROPERTY DURABLE_EXPORTED_TARGETS)
install(TARGETS ${durable_targets} EXPORT durable-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dev)

# `cmake --install --strip` (and CPack, CPACK_STRIP_FILES) strips programs
# only; the static libraries lose their debug information here, as
# Debian's dh_strip does it, and keep the symbols a link needs.
if(CMAKE_STRIP)
  set(durable_archives "")
  foreach(target IN LISTS durable_targets)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "STATIC_LIBRARY")
      list(APPEND durable_archives
        "${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:${target}>")
    endif()
  endforeach()
  install(CODE "
    if(CMAKE_INSTALL_DO_STRIP)
      foreach(archive IN ITEMS ${durable_archives})
        set(path \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/\${archive}\")
        execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
          --enable-deterministic-archives \"\${path}\"
          RESULT_VARIABLE rc)
        if(NOT rc EQUAL 0)
          message(FATAL_ERROR \"strip failed on \${path}\")
        endif()
      endforeach()
    endif()" COMPONENT dev)
endif()

# durable_package: everything `cmake --install` copies, so that a build
# directory can be installed without building its tests first.
add_custom_target(durable_package)
add_dependencies(durable_package ${durable_targets})
if(TARGET durable-node)
  add_dependencies(durable_package durable-node durablectl)
endif()
if(TARGET durable-bench)
  add_dependencies(durable_package durable-bench)
endif()

get_property(durable_headers GLOBAL PROPERTY DURABLE_PUBLIC_HEADERS)
foreach(entry IN LISTS durable_headers)
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 file)
  list(GET entry 1 dir)
  install(FILES ${file} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${dir}
    COMPONENT dev)
endforeach()

install(EXPORT durable-targets NAMESPACE durable::
  FILE durableTargets.cmake DESTINATION ${DURABLE_CMAKE_DIR} COMPONENT dev)

# The components this build has, as find_package() names them, and the
# libraries behind them in link order (users first) for durable.pc.
set(DURABLE_PACKAGE_COMPONENTS "")
set(durable_pc_libs "")
foreach(pair IN ITEMS client:durable_client nodes:durable_nodes
    http:durable_http pg:durable_storage_pg_outbox pg:durable_storage_pg
    mysql:durable_storage_mysql
    sqlite:durable_storage_sqlite memory:durable_storage_memory
    metrics:durable_metrics actors:durable_actors core:durable_core)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 component)
  list(GET pair 1 target)
  if(TARGET ${target})
    list(PREPEND DURABLE_PACKAGE_COMPONENTS ${component})
    get_target_property(output ${target} OUTPUT_NAME)
    if(NOT output)
      set(output ${target})
    endif()
    string(APPEND durable_pc_libs " -l${output}")
  endif()
endforeach()
list(REMOVE_DUPLICATES DURABLE_PACKAGE_COMPONENTS)

# durable::nodes with sd_notify (nodes/CMakeLists.txt) links libsystemd.
if(TARGET durable_nodes AND DURABLE_WITH_SYSTEMD)
  set(DURABLE_PACKAGE_WITH_SYSTEMD TRUE)
else()
  set(DURABLE_PACKAGE_WITH_SYSTEMD FALSE)
endif()
configure_package_config_file(cmake/durableConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/durableConfig.cmake
  INSTALL_DESTINATION ${DURABLE_CMAKE_DIR})
# 0.x: a minor release may change the API (semantic versioning's rule for
# 0.y.z), so a project asking for 0.1 accepts 0.1.x only. From 1.0 on this
# becomes SameMajorVersion.
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/durableConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/durableConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/durableConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake
  DESTINATION ${DURABLE_CMAKE_DIR} COMPONENT dev)

# durable.pc: one module for every library built (they are static, so
# `pkg-config --libs durable` lists them all with what they link). The
# prefix is found from the file's own place, so the prefix can move.
set(durable_pc_requires "nlohmann_json fmt sqlite3")
if(TARGET durable_storage_pg)
  string(APPEND durable_pc_requires " libpqxx")
endif()
if(TARGET durable_storage_mysql)
  string(APPEND durable_pc_requires " libmariadb")
endif()
if(TARGET durable_http)
  string(APPEND durable_pc_requires " cpp-httplib")
endif()
if(TARGET durable_nodes)
  string(APPEND durable_pc_requires " CLI11 spdlog")
endif()
if(DURABLE_PACKAGE_WITH_SYSTEMD)
  string(APPEND durable_pc_requires " libsystemd")
endif()
set(durable_pc_cflags "-I\${includedir}")
if(NOT CAF_INCLUDE_DIR STREQUAL "/usr/include")
  string(APPEND durable_pc_cflags " -I${CAF_INCLUDE_DIR}")
endif()
# CAF by path, or as -l<name> where the linker looks anyway (Debian's
# /usr/lib/<multiarch>): a path there would tie durable.pc to one
# architecture.
foreach(caf_library IN ITEMS ${CAF_IO_LIBRARY} ${CAF_CORE_LIBRARY})
  get_filename_component(caf_dir ${caf_library} DIRECTORY)
  get_filename_component(caf_name ${caf_library} NAME_WE)
  if(caf_dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES
      AND caf_name MATCHES "^lib(.+)$")
    string(APPEND durable_pc_libs " -l${CMAKE_MATCH_1}")
  else()
    string(APPEND durable_pc_libs " ${caf_library}")
  endif()
endforeach()
string(APPEND durable_pc_libs " -pthread")
file(RELATIVE_PATH durable_pc_prefix
  ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig
  ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" durable_pc_prefix "${durable_pc_prefix}")
configure_file(cmake/durable.pc.in ${CMAKE_CURRENT_BINARY_DIR}/durable.pc
  @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/durable.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

install(FILES LICENSE README.md CHANGELOG.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)

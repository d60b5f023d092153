# durable's Debian packages (README.md, "Packages"), made by CPack from the
# install rules:
#
#   durable          the programs (durable-node, durablectl, durable-bench)
#                    in /usr/bin with their manual pages
#                    (DurableManPages.cmake), durable-node.service in
#                    /usr/lib/systemd/system, the user it runs as in
#                    /usr/lib/sysusers.d/durable.conf, the sample
#                    configuration as the conffile /etc/durable/node.conf;
#   libdurable-dev   the headers, the static libraries, the CMake package
#                    and durable.pc (docs/library.md).
#
#   cpack -G DEB --config build/CPackConfig.cmake    (or scripts/deb-check.sh)
#
# The install rules say which package a file goes to: COMPONENT runtime or
# dev. The files only a package needs (unit, sysusers, /etc, Debian's
# copyright and changelog) are EXCLUDE_FROM_ALL: `cmake --install` into a
# prefix leaves them out, and never writes to /etc.

# Who a release names as the packages' Maintainer (and in their changelog).
set(DURABLE_DEB_MAINTAINER "durable maintainers <maintainers@durable.invalid>"
  CACHE STRING "Maintainer field of durable's Debian packages")

set(DURABLE_DEB_DIR ${PROJECT_SOURCE_DIR}/packaging/deb)

include(DurableManPages)

install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/durable-node.service
  DESTINATION lib/systemd/system COMPONENT runtime EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/durable.sysusers
  DESTINATION lib/sysusers.d RENAME durable.conf
  COMPONENT runtime EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/durable-node.conf
  DESTINATION /etc/durable RENAME node.conf
  COMPONENT runtime EXCLUDE_FROM_ALL)

# Debian wants /usr/share/doc/<package>/copyright and a changelog.Debian.gz
# (gzip -9n: no name, no time stamp, so the same bytes every build) in
# every package.
set(durable_deb_changelog ${CMAKE_CURRENT_BINARY_DIR}/deb/changelog.Debian)
# string(TIMESTAMP) honours SOURCE_DATE_EPOCH, for reproducible packages.
string(TIMESTAMP durable_deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${durable_deb_changelog}
  "durable (${PROJECT_VERSION}-1) unstable; urgency=medium\n\n"
  "  * Release ${PROJECT_VERSION}: see /usr/share/doc/durable/CHANGELOG.md.\n\n"
  " -- ${DURABLE_DEB_MAINTAINER}  ${durable_deb_date}\n")
execute_process(COMMAND gzip -9nf ${durable_deb_changelog}
  RESULT_VARIABLE durable_gzip_rc)
if(NOT durable_gzip_rc EQUAL 0)
  message(FATAL_ERROR "durable: gzip failed on ${durable_deb_changelog}")
endif()
foreach(pair IN ITEMS runtime:durable dev:libdurable-dev)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE
    DESTINATION share/doc/${package} RENAME copyright
    COMPONENT ${component} EXCLUDE_FROM_ALL)
  install(FILES ${durable_deb_changelog}.gz
    DESTINATION share/doc/${package}
    COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME durable)
set(CPACK_PACKAGE_VENDOR "the durable authors")
set(CPACK_PACKAGE_CONTACT "${DURABLE_DEB_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Only what a release needs: no debug information in the packages.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from what the binaries link (dpkg-shlibdeps).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME durable)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION misc)
# The first line is the synopsis; CPack indents the rest and turns empty
# lines into " .".
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
  "runtime for durable task executions (node, CLI, benchmark)
durable runs durable task executions: workflows whose steps survive
crashes and restarts, kept in SQLite or PostgreSQL and claimed by the
nodes of a cluster.

This package has durable-node (a node with an HTTP/JSON API, run by
durable-node.service as the user durable, configured in
/etc/durable/node.conf), durablectl (the operator's command line) and
durable-bench (the benchmark harness).")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
  "${DURABLE_DEB_DIR}/conffiles;${DURABLE_DEB_DIR}/postinst;${DURABLE_DEB_DIR}/prerm;${DURABLE_DEB_DIR}/postrm")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libdurable-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# What the installed headers and durableConfig.cmake find: the -dev
# packages of durable's dependencies.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libcaf-dev, nlohmann-json3-dev, libfmt-dev, libsqlite3-dev, libpqxx-dev, libcpp-httplib-dev, libboost-dev, libcli11-dev, libspdlog-dev")
if(DURABLE_PACKAGE_WITH_SYSTEMD)
  string(APPEND CPACK_DEBIAN_DEV_PACKAGE_DEPENDS ", libsystemd-dev")
endif()
if(TARGET durable_storage_mysql)
  string(APPEND CPACK_DEBIAN_DEV_PACKAGE_DEPENDS ", libmariadb-dev")
endif()
set(CPACK_DEBIAN_DEV_DESCRIPTION
  "runtime for durable task executions (development files)
durable runs durable task executions: workflows whose steps survive
crashes and restarts, kept in SQLite or PostgreSQL and claimed by the
nodes of a cluster.

This package has the C++20 headers and static libraries to embed durable
in a program, with its CMake package (find_package(durable)) and
durable.pc.")

include(CPack)

# Manual pages of the programs in the durable package (man durable-node),
# written by help2man from each program's own --help and --version, so a
# page cannot disagree with the program it describes. Built with
# durable_package (what cpack packages) and installed only into the
# package: COMPONENT runtime, EXCLUDE_FROM_ALL, as the unit and /etc files.
#
# Without help2man (scripts/setup.sh deb installs it) the packages are made
# without pages, and lintian warns about it.

find_program(DURABLE_HELP2MAN help2man)
if(NOT DURABLE_HELP2MAN)
  message(STATUS "durable: help2man not found, the Debian package will "
                 "have no manual pages (scripts/setup.sh deb)")
  return()
endif()

set(durable_man_dir ${CMAKE_CURRENT_BINARY_DIR}/man)
file(MAKE_DIRECTORY ${durable_man_dir})

# durable_man_page(<program> <one-line description>)
function(durable_man_page program description)
  if(NOT TARGET ${program})
    return()
  endif()
  set(page ${durable_man_dir}/${program}.1)
  # gzip -9n: no name, no time stamp, so the same bytes every build.
  add_custom_command(OUTPUT ${page}.gz
    COMMAND ${DURABLE_HELP2MAN} --no-info --section=1
      --name=${description} --output=${page} $<TARGET_FILE:${program}>
    COMMAND gzip -9nf ${page}
    DEPENDS ${program}
    COMMENT "Writing the manual page of ${program}"
    VERBATIM)
  add_custom_target(${program}_man_page DEPENDS ${page}.gz)
  add_dependencies(durable_package ${program}_man_page)
  install(FILES ${page}.gz DESTINATION share/man/man1
    COMPONENT runtime EXCLUDE_FROM_ALL)
endfunction()

durable_man_page(durable-node
  "a node of a durable cluster: runs tasks from a store, serves the HTTP API")
durable_man_page(durablectl
  "inspect, enqueue, cancel, retry and prune durable executions")
durable_man_page(durable-bench
  "measure durable's throughput and latency against its ceilings")

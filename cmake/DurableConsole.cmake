# durable_console_assets(<out_var>): the web console (docs/console.md) as a
# source file of the current directory's build: the pages, scripts, styles
# and images of nodes/ui/ compiled in by cmake/DurableEmbed.cmake,
# regenerated when one changes (the glob re-runs at build time, so a new
# file is picked up too; an editor's swap file is not). Sets <out_var> to
# the generated file; durable::http and the HTTP fuzzer each add it to
# their own sources.
function(durable_console_assets out_var)
  set(ui_dir ${PROJECT_SOURCE_DIR}/nodes/ui)
  file(GLOB_RECURSE files CONFIGURE_DEPENDS RELATIVE ${ui_dir}
    ${ui_dir}/*.html ${ui_dir}/*.js ${ui_dir}/*.css ${ui_dir}/*.svg
    ${ui_dir}/*.png)
  list(SORT files)
  list(TRANSFORM files PREPEND ${ui_dir}/ OUTPUT_VARIABLE paths)
  string(JOIN "|" file_list ${files})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/console_assets.cpp)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DROOT=${ui_dir} "-DFILES=${file_list}"
      -DOUTPUT=${out} -P ${PROJECT_SOURCE_DIR}/cmake/DurableEmbed.cmake
    DEPENDS ${paths} ${PROJECT_SOURCE_DIR}/cmake/DurableEmbed.cmake
    COMMENT "Embedding the web console (${ui_dir})"
    VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()

# DURABLE_SANITIZERS: build every target with the given sanitizers, e.g.
# `-DDURABLE_SANITIZERS=address,undefined` (clang-14 or gcc). Only our own
# code is instrumented: Debian's CAF, libpqxx and SQLite are not.
#
# UBSan stays recoverable at compile time and is made fatal at run time by
# `halt_on_error=1` (durable_sanitizer_test_environment below): with
# `-fno-sanitize-recover` a report aborts even when the suppression file
# names it, so the two CAF-header entries of tests/sanitizers/ubsan.supp
# could not be suppressed.
set(DURABLE_SANITIZERS "" CACHE STRING
  "Comma-separated sanitizers for every target (e.g. address,undefined)")

if(DURABLE_SANITIZERS)
  if(DURABLE_WITH_JEMALLOC)
    # ASan must own malloc; jemalloc would hide heap errors from it.
    message(STATUS "DURABLE_SANITIZERS set: programs link glibc's malloc")
    set(DURABLE_WITH_JEMALLOC OFF CACHE BOOL "" FORCE)
  endif()
  add_compile_options(-fsanitize=${DURABLE_SANITIZERS}
    -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${DURABLE_SANITIZERS})
  # The run-time options every test runs with (a CTest ENVIRONMENT list).
  # Reports name files and lines only with a symbolizer: Debian's llvm-14
  # has llvm-symbolizer-14 (the unversioned name comes with `llvm`).
  find_program(DURABLE_LLVM_SYMBOLIZER
    NAMES llvm-symbolizer-14 llvm-symbolizer)
  set(common "print_stacktrace=1")
  if(DURABLE_LLVM_SYMBOLIZER)
    string(APPEND common
      ":external_symbolizer_path=${DURABLE_LLVM_SYMBOLIZER}")
  endif()
  set(supp "${PROJECT_SOURCE_DIR}/tests/sanitizers")
  set(DURABLE_SANITIZER_ENV
    "UBSAN_OPTIONS=${common}:halt_on_error=1:suppressions=${supp}/ubsan.supp"
    "ASAN_OPTIONS=${common}:check_initialization_order=1:strict_init_order=1"
    "LSAN_OPTIONS=suppressions=${supp}/lsan.supp:print_suppressions=0")
endif()

# durable_sanitizer_test_environment()
# Sets the sanitizer run-time options on every doctest case discovered in
# the current directory, so that `ctest` (and the helper processes a test
# starts, which inherit the environment) report through the project's
# suppression files and stop at the first error. Call it after the last
# doctest_discover_tests() of the directory.
function(durable_sanitizer_test_environment)
  if(NOT DURABLE_SANITIZERS)
    return()
  endif()
  get_directory_property(targets BUILDSYSTEM_TARGETS)
  set(script "")
  foreach(t IN LISTS targets)
    string(APPEND script "if(${t}_TESTS)\n"
      "  set_tests_properties(\${${t}_TESTS} PROPERTIES ENVIRONMENT \"${DURABLE_SANITIZER_ENV}\")\n"
      "endif()\n")
  endforeach()
  set(file "${CMAKE_CURRENT_BINARY_DIR}/durable_sanitizer_env.cmake")
  file(WRITE "${file}" "${script}")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${file}")
endfunction()

# Helpers shared by the folders: warnings, module libraries, tests, include rules.

function(cube_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(CUBE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# cube_add_module(NAME cube_solvers SRCS a.cc b.cc DEPS cube_core ...)
# An OBJECT library, so that static self-registration is never dropped by the linker.
function(cube_add_module)
  cmake_parse_arguments(M "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${M_NAME} OBJECT ${M_SRCS})
  target_include_directories(${M_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${M_NAME} PUBLIC ${M_DEPS})
  cube_warnings(${M_NAME})
endfunction()

# cube_add_test(NAME core_tests SRCS a_test.cc DEPS ... LABELS unit)
function(cube_add_test)
  cmake_parse_arguments(T "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT T_SRCS)
    return()  # a folder without tests yet
  endif()
  add_executable(${T_NAME} ${T_SRCS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${T_NAME} PRIVATE
    CUBE_SOURCE_DIR="${PROJECT_SOURCE_DIR}" CUBE_BINARY="$<TARGET_FILE:cube>")
  cube_warnings(${T_NAME})
  gtest_discover_tests(${T_NAME} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()

# Fails the configure step if a source under `dir` includes a header matching `regex`.
function(cube_forbid_includes dir regex)
  file(GLOB_RECURSE sources "${PROJECT_SOURCE_DIR}/${dir}/*.h" "${PROJECT_SOURCE_DIR}/${dir}/*.cc")
  foreach(source ${sources})
    file(STRINGS ${source} includes REGEX "^#include [<\"](${regex})")
    if(includes)
      message(FATAL_ERROR "${source}: ${dir}/ may not include ${includes} (see docs/architecture.md)")
    endif()
  endforeach()
endfunction()

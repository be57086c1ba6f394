# Helpers shared by the folders: warnings, module libraries, tests.

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

# cube_add_axis(NAME cube_solvers SRCS solver.cc DEPS cube_core ...)
# One axis folder: the top-level SRCS form the STATIC library NAME_base (shared code, no
# registrations); every subfolder holding .cc files becomes its own OBJECT library NAME_<dir>
# (a module family builds and tests alone, and static registration is never dropped); NAME is
# an INTERFACE target carrying all of their objects. Subfolders must not depend on each other.
function(cube_add_axis)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${A_NAME}_base STATIC ${A_SRCS})
  target_include_directories(${A_NAME}_base PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${A_NAME}_base PUBLIC ${A_DEPS})
  cube_warnings(${A_NAME}_base)
  add_library(${A_NAME} INTERFACE)
  target_link_libraries(${A_NAME} INTERFACE ${A_NAME}_base)
  file(GLOB children RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child ${children})
    file(GLOB child_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/*.cc)
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child} AND child_sources)
      cube_add_module(NAME ${A_NAME}_${child} SRCS ${child_sources} DEPS ${A_NAME}_base)
      target_sources(${A_NAME} INTERFACE $<TARGET_OBJECTS:${A_NAME}_${child}>)
      target_link_libraries(${A_NAME} INTERFACE ${A_NAME}_${child})
    endif()
  endforeach()
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

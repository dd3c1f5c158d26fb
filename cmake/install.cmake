# What `cmake --install` and the .debs ship besides the programs and the preload library:
# the public headers, the analysis library and a CMake package (component `dev`, the
# leakprobe-dev package), so that
#
#   find_package(leakprobe REQUIRED)
#   target_link_libraries(app PRIVATE leakprobe::analysis)   # parser, diff, reports
#   target_link_libraries(app PRIVATE leakprobe::format)     # snapshot_format.h only
#
# works for C++ users. The analysis library's own dependencies are found by walking its link
# graph at configure time, so a library added to it later is exported (or named in an error)
# without anyone having to remember this file.
include(CMakePackageConfigHelpers)

set(leakprobe_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/leakprobe)

# How an installed consumer finds each imported target the analysis library links.
set(leakprobe_dep_PkgConfig::DW
    "find_dependency(PkgConfig)\npkg_check_modules(DW REQUIRED IMPORTED_TARGET libdw)")
set(leakprobe_dep_nlohmann_json::nlohmann_json "find_dependency(nlohmann_json)")
set(leakprobe_dep_protobuf::libprotobuf "find_dependency(Protobuf)")
set(leakprobe_dep_ZLIB::ZLIB "find_dependency(ZLIB)")
set(leakprobe_dep_Threads::Threads "find_dependency(Threads)")
set(leakprobe_dep_CLI11::CLI11 "find_dependency(CLI11)")

# Collects the project's targets reachable from `target` (into leakprobe_export_targets) and
# the imported ones (into leakprobe_export_imported).
function(leakprobe_walk_links target)
  get_target_property(aliased ${target} ALIASED_TARGET)
  if(aliased)
    set(target ${aliased})
  endif()
  if(target IN_LIST leakprobe_export_targets)
    return()
  endif()
  get_target_property(imported ${target} IMPORTED)
  if(imported)
    set(list ${leakprobe_export_imported})
    list(APPEND list ${target})
    list(REMOVE_DUPLICATES list)
    set(leakprobe_export_imported ${list} PARENT_SCOPE)
    return()
  endif()
  list(APPEND leakprobe_export_targets ${target})
  set(links)
  foreach(prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(items ${target} ${prop})
    if(items)
      list(APPEND links ${items})
    endif()
  endforeach()
  foreach(item IN LISTS links)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" item "${item}")
    if(TARGET ${item})
      leakprobe_walk_links(${item})
    elseif(item MATCHES "::")
      # An imported target found in a subdirectory (tools/pprof's protobuf::libprotobuf) is
      # not visible from here, but is imported all the same.
      list(APPEND leakprobe_export_imported ${item})
      list(REMOVE_DUPLICATES leakprobe_export_imported)
    endif()
  endforeach()
  set(leakprobe_export_targets ${leakprobe_export_targets} PARENT_SCOPE)
  set(leakprobe_export_imported ${leakprobe_export_imported} PARENT_SCOPE)
endfunction()

set(leakprobe_export_targets)
set(leakprobe_export_imported)
leakprobe_walk_links(leakprobe_analysis)
leakprobe_walk_links(leakprobe_format)

set(leakprobe_find_dependencies "")
foreach(dep IN LISTS leakprobe_export_imported)
  if(NOT DEFINED leakprobe_dep_${dep})
    message(FATAL_ERROR "leakprobe::analysis links ${dep}: say in cmake/install.cmake how an "
                        "installed consumer finds it (set leakprobe_dep_${dep})")
  endif()
  string(APPEND leakprobe_find_dependencies "${leakprobe_dep_${dep}}\n")
endforeach()

foreach(target IN LISTS leakprobe_export_targets)
  # leakprobe::analysis, leakprobe::format, ...: the names the build tree's aliases use.
  string(REGEX REPLACE "^leakprobe_" "" short ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${short})
  target_include_directories(${target} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  # Public headers: every include directory of the target that lies in the source tree.
  get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
  foreach(dir IN LISTS dirs)
    if(dir MATCHES "^\\$<BUILD_INTERFACE:(.*)>$")
      set(dir ${CMAKE_MATCH_1})
      # Only directories of the source tree, never the build tree inside it (a checkout's
      # build/ holds generated headers and empty CMakeFiles/ directories: tools/pprof installs
      # its one generated header on purpose, under leakprobe/pprof/).
      string(FIND "${dir}/" "${PROJECT_BINARY_DIR}/" in_build_tree)
      if(dir MATCHES "^${PROJECT_SOURCE_DIR}/" AND NOT in_build_tree EQUAL 0 AND IS_DIRECTORY ${dir})
        install(DIRECTORY ${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
                FILES_MATCHING PATTERN "*.h")
      endif()
    endif()
  endforeach()
endforeach()

install(TARGETS ${leakprobe_export_targets} EXPORT leakprobeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(EXPORT leakprobeTargets NAMESPACE leakprobe:: DESTINATION ${leakprobe_cmake_dir}
        COMPONENT dev)
configure_package_config_file(cmake/leakprobe-config.cmake.in
  ${PROJECT_BINARY_DIR}/leakprobe-config.cmake INSTALL_DESTINATION ${leakprobe_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/leakprobe-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/leakprobe-config.cmake
              ${PROJECT_BINARY_DIR}/leakprobe-config-version.cmake
        DESTINATION ${leakprobe_cmake_dir} COMPONENT dev)

# Documentation, man pages and the systemd drop-in example (component `runtime`, the leakprobe
# package). The docs keep the source tree's layout (README.md beside docs/), so that every link
# in them works where they are installed: tests/install checks each one.
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs COMPONENT runtime
        FILES_MATCHING PATTERN "*.md" PATTERN "*.png")
install(FILES packaging/systemd/leakprobe.conf packaging/systemd/leakprobe-exporter.service
              packaging/prometheus/leakprobe-rules.yml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT runtime)

# The project has no public address yet: a builder who publishes packages names theirs here
# (lintian's bogus-mail-host until then: packaging/debian/*.lintian-overrides).
set(LEAKPROBE_DEB_MAINTAINER "leakprobe maintainers <leakprobe@localhost>" CACHE STRING
    "Maintainer of the .debs (control file and changelog)")

# Files Debian wants compressed (man pages, the changelog): gzip -9n, so that two builds of
# one source give the same bytes. The version and the date come from here (project() and
# SOURCE_DATE_EPOCH or now), nowhere else.
string(TIMESTAMP LEAKPROBE_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(leakprobe_gz_files)
foreach(page leakprobe.1 heapdiff.1)
  configure_file(packaging/man/${page} ${PROJECT_BINARY_DIR}/packaging/${page} @ONLY)
  list(APPEND leakprobe_gz_files ${page})
endforeach()
configure_file(packaging/debian/changelog ${PROJECT_BINARY_DIR}/packaging/changelog @ONLY)
list(APPEND leakprobe_gz_files changelog)
set(leakprobe_gz_outputs)
foreach(file IN LISTS leakprobe_gz_files)
  add_custom_command(
    OUTPUT ${PROJECT_BINARY_DIR}/packaging/${file}.gz
    COMMAND gzip -9nf -k ${PROJECT_BINARY_DIR}/packaging/${file}
    DEPENDS ${PROJECT_BINARY_DIR}/packaging/${file}
    VERBATIM)
  list(APPEND leakprobe_gz_outputs ${PROJECT_BINARY_DIR}/packaging/${file}.gz)
endforeach()
add_custom_target(leakprobe_packaging_files ALL DEPENDS ${leakprobe_gz_outputs})
install(FILES ${PROJECT_BINARY_DIR}/packaging/leakprobe.1.gz
              ${PROJECT_BINARY_DIR}/packaging/heapdiff.1.gz
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
# Every Debian package carries its copyright and changelog in its own doc directory.
foreach(pair runtime:leakprobe dev:leakprobe-dev)
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES packaging/debian/copyright ${PROJECT_BINARY_DIR}/packaging/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component})
  # What lintian may say about the package and why it is so (tests/install runs lintian).
  if(EXISTS ${PROJECT_SOURCE_DIR}/packaging/debian/${package}.lintian-overrides)
    install(FILES packaging/debian/${package}.lintian-overrides
            DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides RENAME ${package}
            COMPONENT ${component})
  endif()
endforeach()

# The .debs: `cpack -G DEB` in a build configured with -DCMAKE_INSTALL_PREFIX=/usr (the library
# then lands in /usr/lib/<multiarch>). Two packages, as Debian splits them:
#   leakprobe      the probe, the two commands, their man pages and docs;
#   leakprobe-dev  headers, the static analysis library and find_package(leakprobe);
# and leakprobe-dbgsym (a .ddeb) with the debug info split off the stripped binaries, for gdb.
# Runtime dependencies come from dpkg-shlibdeps.
set(CPACK_PACKAGE_NAME leakprobe)
set(CPACK_PACKAGE_VENDOR "leakprobe")
set(CPACK_PACKAGE_CONTACT "${LEAKPROBE_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <package>_<version>_<arch>.deb
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME leakprobe)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME leakprobe-dev)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# One string each (a CMake list would put ';' into the control file): the synopsis, then the
# extended description, which CPack indents; "." is Debian's empty line.
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
"find memory, socket, timer and thread leaks in running services
libleakprobe.so is preloaded into an unmodified program, such as a mosquitto
broker or a service built on an MQTT client library. It keeps the program's
live allocations, descriptors, POSIX timers and threads by call stack, and
writes heap snapshots (gperftools/pprof heap profiles) on demand, on an
interval and at exit.
.
leakprobe runs a program under the probe and asks running ones for
snapshots; heapdiff ranks call stacks by growth between snapshots, as text,
JSON for CI gates, a self-contained HTML page or a pprof profile.")
set(CPACK_DEBIAN_DEV_DESCRIPTION
"leakprobe's analysis library, headers and CMake package
The snapshot format header, the static library behind heapdiff (snapshot
parser, diff, trend, reports) and a CMake package, so that C++ programs can
read and compare leakprobe snapshots: find_package(leakprobe) and link
leakprobe::analysis or leakprobe::format.")
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)  # leakprobe-dev: Depends: leakprobe (= version)
# What find_package(leakprobe) looks for (the find_dependency lines above), as Debian packages.
set(leakprobe_deb_PkgConfig::DW "libdw-dev, pkgconf | pkg-config")
set(leakprobe_deb_nlohmann_json::nlohmann_json "nlohmann-json3-dev")
set(leakprobe_deb_protobuf::libprotobuf "libprotobuf-dev")
set(leakprobe_deb_ZLIB::ZLIB "zlib1g-dev")
set(leakprobe_deb_Threads::Threads "")
set(leakprobe_deb_CLI11::CLI11 "libcli11-dev")
set(leakprobe_dev_depends)
foreach(dep IN LISTS leakprobe_export_imported)
  if(NOT DEFINED leakprobe_deb_${dep})
    message(FATAL_ERROR "leakprobe::analysis links ${dep}: say in cmake/install.cmake which "
                        "Debian package provides it (set leakprobe_deb_${dep})")
  endif()
  if(leakprobe_deb_${dep})
    list(APPEND leakprobe_dev_depends "${leakprobe_deb_${dep}}")
  endif()
endforeach()
list(JOIN leakprobe_dev_depends ", " CPACK_DEBIAN_DEV_PACKAGE_DEPENDS)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# The probe loads libunwind only for LEAKPROBE_VERIFY_UNWIND=1 (dlopen), so it is no dependency.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "libunwind8")
# Stripped binaries, their debug info in leakprobe-dbgsym (the -dbgsym convention heapdiff's
# own warning points users to): 80 MB of DWARF is not what an operator installs. CPack splits
# it off only from binaries it finds unstripped, so CPACK_STRIP_FILES stays off. What else
# dh_strip would do (the static libraries' debug info, .comment sections) is in
# cmake/package_strip.cmake.
set(CPACK_STRIP_FILES OFF)
set(CPACK_DEBIAN_RUNTIME_DEBUGINFO_PACKAGE ON)
set(CPACK_LEAKPROBE_STRIP ${CMAKE_STRIP})
set(CPACK_LEAKPROBE_OBJCOPY ${CMAKE_OBJCOPY})
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/package_strip.cmake)
include(CPack)

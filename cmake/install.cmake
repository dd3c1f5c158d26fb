# What `cmake --install` and the .deb ship besides the programs and the preload library:
# the public headers, the analysis library and a CMake package, so that
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
      if(dir MATCHES "^${PROJECT_SOURCE_DIR}/" AND IS_DIRECTORY ${dir})
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

# Documentation and the systemd drop-in example, where Debian puts a package's docs.
install(FILES README.md docs/settings.md docs/guide.md docs/heapdiff.md docs/snapshot-format.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES packaging/systemd/leakprobe.conf packaging/systemd/leakprobe-exporter.service
              packaging/prometheus/leakprobe-rules.yml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# The .deb: `cpack -G DEB` in a build configured with -DCMAKE_INSTALL_PREFIX=/usr (the library
# then lands in /usr/lib/<multiarch>). Runtime dependencies come from dpkg-shlibdeps.
set(CPACK_PACKAGE_NAME leakprobe)
set(CPACK_PACKAGE_VENDOR "leakprobe")
set(CPACK_PACKAGE_CONTACT "leakprobe maintainers <leakprobe@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "find memory, socket, timer and thread leaks in running services by call stack")
set(CPACK_PACKAGE_DESCRIPTION
    "libleakprobe.so is preloaded into an unmodified program and writes pprof-compatible heap\n"
    "snapshots on demand, on an interval and at exit; heapdiff ranks call stacks by growth;\n"
    "leakprobe runs programs under the probe and asks running ones for snapshots.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # leakprobe_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The probe loads libunwind only for LEAKPROBE_VERIFY_UNWIND=1 (dlopen), so it is no dependency.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libunwind8")
set(CPACK_STRIP_FILES OFF)  # keep the symbols heapdiff and gdb users want
include(CPack)

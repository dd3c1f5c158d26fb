# CPACK_PRE_BUILD_SCRIPTS (cmake/install.cmake): runs after cpack has installed the components
# into its staging tree and before it packs them, and does what Debian's dh_strip does that
# CPack does not:
#   - static libraries lose their debug info (most of their size, and it names the build
#     machine's paths), deterministically;
#   - every ELF file loses its .comment section (compiler version strings).
# The executables' and the probe's debug info is left for CPack to split into -dbgsym.
file(GLOB_RECURSE archives "${CPACK_TEMPORARY_DIRECTORY}/*.a")
foreach(archive IN LISTS archives)
  execute_process(
    COMMAND "${CPACK_LEAKPROBE_STRIP}" --strip-debug --enable-deterministic-archives
            --remove-section=.comment --remove-section=.note "${archive}"
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cannot strip ${archive}: ${err}")
  endif()
endforeach()
file(GLOB_RECURSE files "${CPACK_TEMPORARY_DIRECTORY}/*")
foreach(file IN LISTS files)
  file(READ "${file}" magic LIMIT 4 HEX)
  if(NOT magic STREQUAL "7f454c46")  # "\x7fELF"
    continue()
  endif()
  execute_process(COMMAND "${CPACK_LEAKPROBE_OBJCOPY}" --remove-section=.comment "${file}"
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cannot remove .comment from ${file}: ${err}")
  endif()
endforeach()

# `cmake --install build` puts the runner, the engine library, its headers and
# a CMake package in the prefix, so a plugin can `find_package(voxpipe)` and
# link voxpipe::framework.
include(CMakePackageConfigHelpers)

# Component "dev" is what a plugin build needs (`--component dev`).
install(TARGETS voxpipe_framework EXPORT voxpipeTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/voxpipe)
install(DIRECTORY framework/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/voxpipe/framework
  COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/framework/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/voxpipe/framework COMPONENT dev)
install(EXPORT voxpipeTargets NAMESPACE voxpipe:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/voxpipe COMPONENT dev)

configure_package_config_file(cmake/voxpipeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/voxpipeConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/voxpipe)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/voxpipeConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/voxpipeConfig.cmake ${PROJECT_BINARY_DIR}/voxpipeConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/voxpipe COMPONENT dev)

# The runtime tree: executables find libvoxpipe next door ($ORIGIN/../lib), so
# PREFIX/bin/voxpipe runs without LD_LIBRARY_PATH wherever the prefix is moved.
file(RELATIVE_PATH _voxpipe_bin_to_lib ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
set_target_properties(voxpipe gemini-emulator PROPERTIES
  INSTALL_RPATH "$ORIGIN/${_voxpipe_bin_to_lib}")

# share/voxpipe/: the shipped pipelines (their prompts/ and knowledge/ beside
# them, so the relative paths in the YAML hold), the emulator's scenarios and
# the audio they name as ../audio/*.wav.
install(DIRECTORY pipelines/ DESTINATION ${CMAKE_INSTALL_DATADIR}/voxpipe/pipelines COMPONENT runtime)
install(DIRECTORY tests/data/emulator/ DESTINATION ${CMAKE_INSTALL_DATADIR}/voxpipe/emulator COMPONENT runtime)
install(DIRECTORY tests/data/audio/ DESTINATION ${CMAKE_INSTALL_DATADIR}/voxpipe/audio COMPONENT runtime)
# The browser page (web/), when the tree has one.
if(EXISTS ${PROJECT_SOURCE_DIR}/web)
  install(DIRECTORY web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/voxpipe/web COMPONENT runtime)
endif()
# Deployment examples: the systemd unit, its env file, balancer configs, manifests.
install(DIRECTORY deploy/ DESTINATION ${CMAKE_INSTALL_DATADIR}/voxpipe/deploy COMPONENT runtime)
install(FILES docs/operations.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)

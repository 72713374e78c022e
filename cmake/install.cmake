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

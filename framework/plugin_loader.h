// Loads processor plugins: shared libraries built against the installed
// voxpipe headers (find_package(voxpipe)) whose REGISTER_PROCESSOR lines run
// when the library is opened. See examples/plugin/.
#pragma once

#include <string>

#include "framework/status.h"

namespace voxpipe {

// Opens the plugin at `path` once (later calls with the same file are no-ops)
// and registers its processors. Errors name the file and say what is wrong:
// not found, not loadable, built against another engine version, a processor
// name already taken, or nothing registered.
Status LoadPlugin(const std::string& path);

}  // namespace voxpipe

#include "framework/plugin_loader.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framework/registry.h"

namespace voxpipe {

Status LoadPlugin(const std::string& path) {
  static std::mutex mutex;
  static std::set<std::string> loaded;
  std::lock_guard lock(mutex);

  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::Error(fmt::format("plugin {}: file not found", path));
  }
  std::string canonical = std::filesystem::canonical(path, ec).string();
  if (loaded.count(canonical)) return OkStatus();

  Registry::Instance().BeginPlugin(path);
  void* handle = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    Registry::Instance().EndPlugin();
    return Status::Error(fmt::format("plugin {}: cannot load: {}", path, why ? why : "unknown error"));
  }
  // The library stays open even on failure: its code may still be referenced
  // by static objects, and the process is about to report the error anyway.
  if (Status s = Registry::Instance().EndPlugin(); !s.ok()) return s;
  loaded.insert(canonical);
  spdlog::debug("loaded plugin {}", path);
  return OkStatus();
}

}  // namespace voxpipe

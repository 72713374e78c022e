#include "framework/registry.h"

#include <fmt/format.h>

#include "framework/service.h"

namespace voxpipe {

Registry& Registry::Instance() {
  static Registry registry;
  return registry;
}

const ProcessorType* Registry::FindProcessor(const std::string& name) const {
  auto it = processors_.find(name);
  return it == processors_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Registry::ProcessorNames() const {
  std::vector<std::string> names;
  for (const auto& [name, type] : processors_) names.push_back(name);
  return names;
}

const ServiceType* Registry::FindService(const std::string& name) const {
  auto it = services_.find(name);
  return it == services_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Registry::ServiceNames() const {
  std::vector<std::string> names;
  for (const auto& [name, type] : services_) names.push_back(name);
  return names;
}

void Registry::BeginPlugin(std::string origin) {
  origin_ = std::move(origin);
  in_plugin_ = true;
  plugin_names_.clear();
  plugin_errors_.clear();
}

Status Registry::EndPlugin() {
  in_plugin_ = false;
  std::string origin = std::exchange(origin_, "built-in");
  if (plugin_errors_.empty()) {
    if (plugin_names_.empty()) {
      return Status::Error(fmt::format("plugin {} registers no processor or service (did it use REGISTER_PROCESSOR?)",
                                       origin));
    }
    return OkStatus();
  }
  for (const auto& [name, is_service] : plugin_names_) {
    if (is_service) {
      services_.erase(name);
    } else {
      processors_.erase(name);
    }
  }
  return Status::Error(fmt::format("plugin {}: {}", origin, plugin_errors_.front()));
}

bool Registry::CheckAdd(int abi_version, const std::string& name, const std::string& kind, bool exists) {
  std::string problem;
  if (abi_version != VOXPIPE_ABI_VERSION) {
    problem = fmt::format("was built against voxpipe engine ABI {}, but this voxpipe {} has ABI {}; rebuild it "
                          "against the installed headers",
                          abi_version, VOXPIPE_VERSION, VOXPIPE_ABI_VERSION);
  } else if (exists) {
    problem = fmt::format("{} '{}' is registered twice (already registered by {})", kind, name,
                          kind == "processor" ? FindProcessor(name)->origin : FindService(name)->origin);
  }
  if (problem.empty()) return true;
  if (in_plugin_) {
    plugin_errors_.push_back(problem);
  } else {
    // Two built-ins with one name is a programming error caught by any test.
    fmt::print(stderr, "voxpipe: {} {}\n", kind, problem);
    std::abort();
  }
  return false;
}

bool Registry::AddProcessor(int abi_version, const char* name, void (*fill)(ProcessorType&)) {
  if (!CheckAdd(abi_version, name, "processor", processors_.count(name) > 0)) return false;
  auto type = std::make_unique<ProcessorType>();
  type->name = name;
  type->origin = origin_;
  fill(*type);
  processors_[name] = std::move(type);
  if (in_plugin_) plugin_names_.emplace_back(name, false);
  return true;
}

bool Registry::AddService(int abi_version, const char* name, void (*fill)(ServiceType&)) {
  if (!CheckAdd(abi_version, name, "service", services_.count(name) > 0)) return false;
  auto type = std::make_unique<ServiceType>();
  type->name = name;
  type->origin = origin_;
  fill(*type);
  services_[name] = std::move(type);
  if (in_plugin_) plugin_names_.emplace_back(name, true);
  return true;
}

}  // namespace voxpipe

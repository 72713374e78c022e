// Services: front ends that turn outside events into pipeline instances, such
// as the Twilio phone server (one instance per call). A pipeline file names
// one in its `server:` section; without one, the runner runs a single
// instance to completion (a file pipeline).
//
// A service class provides, like a processor:
//   using Options = ...;
//   static ServiceDoc Doc();
//   static Status Validate(const Options&, const PipelineTemplate&);  // e.g. "needs a TwilioInput"
//   T(const Options&, ServiceEnv env);
// and registers with REGISTER_SERVICE(T, "name").
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/pipeline.h"
#include "framework/registry.h"
#include "framework/runtime.h"
#include "framework/transport/call_registry.h"

namespace voxpipe {

struct ServiceEnv {
  Runtime* runtime = nullptr;  // its loops carry the calls; loop 0 the service's own work
  std::shared_ptr<const PipelineTemplate> pipeline;
  std::string pipeline_file;
  // The process's calls, shared by every service in it (null: a service of its own).
  std::shared_ptr<CallRegistry> registry;
};

class Service {
 public:
  virtual ~Service() = default;
  // Binds and starts accepting; errors name what failed (e.g. the port).
  virtual Status Start() = 0;
  // Stops taking new work, lets running instances finish for up to `grace`,
  // cancels the rest, then calls `done` (on the runtime's main loop).
  virtual void Drain(std::chrono::milliseconds grace, std::function<void()> done) = 0;
  // The grace the runner gives on SIGTERM unless told otherwise
  // (`voxpipe run --drain-timeout`).
  virtual std::chrono::milliseconds drain_timeout() const { return std::chrono::seconds(30); }
  // New calls use `pipeline` from now on; calls in progress finish on the
  // one they started with (SIGHUP). Thread-safe.
  virtual void Reload(std::shared_ptr<const PipelineTemplate> pipeline) = 0;
  // Whether it takes calls now (not draining, not full): /health/ready.
  virtual bool ready() const { return true; }
  // What GET / and the admin view show of it.
  virtual nlohmann::json Describe() const { return nlohmann::json::object(); }
};

struct ServiceDoc {
  std::string summary;
  std::string description;
  std::string example;
};

class ServiceType {
 public:
  std::string name;
  ServiceDoc doc;
  std::vector<OptionInfo> options;
  std::string origin = "built-in";
  std::function<Result<std::shared_ptr<const void>>(const ConfigNode&)> parse_options;
  std::function<Status(const void* options, const PipelineTemplate&)> validate;
  std::function<std::unique_ptr<Service>(const void* options, ServiceEnv env)> create;
};

namespace registry_detail {

template <typename T>
void FillService(ServiceType& type) {
  using Options = typename T::Options;
  type.doc = T::Doc();
  type.options = Schema<Options>::Get().Describe();
  type.parse_options = [](const ConfigNode& node) -> Result<std::shared_ptr<const void>> {
    auto parsed = Schema<Options>::Get().Parse(node, {"type"});
    if (!parsed.ok()) return parsed.status();
    return std::shared_ptr<const void>(std::make_shared<const Options>(std::move(parsed).value()));
  };
  type.validate = [](const void* options, const PipelineTemplate& pipeline) {
    return T::Validate(*static_cast<const Options*>(options), pipeline);
  };
  type.create = [](const void* options, ServiceEnv env) -> std::unique_ptr<Service> {
    return std::make_unique<T>(*static_cast<const Options*>(options), std::move(env));
  };
}

}  // namespace registry_detail
}  // namespace voxpipe

#define REGISTER_SERVICE(T, NAME)                                                           \
  [[maybe_unused]] static const bool VOXPIPE_CONCAT(voxpipe_registered_service_, __LINE__) = \
      ::voxpipe::Registry::Instance().AddService(VOXPIPE_ABI_VERSION, NAME,                 \
                                                 &::voxpipe::registry_detail::FillService<T>)

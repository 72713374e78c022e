// The registry of processor types (and service types, see service.h).
//
// A processor registers itself with one line at the end of its .cc file:
//
//   REGISTER_PROCESSOR(MulawDecoder);
//
// The class provides:
//   using Options = ...;                    // a struct with Declare(), see options.h
//   static ProcessorDoc Doc();              // what `voxpipe processors` prints
//   static Result<StreamFormat> Negotiate(const Options&, const StreamFormat& input);
//   explicit T(const Options&);           // or T(std::shared_ptr<const Options>), to share them
// and optionally
//   static constexpr const char* kServer = "twilio";  // needs `server: {type: twilio}`
//   static Status Prepare(Options&, const ConfigNode& stage);  // completes options when the
//       pipeline is built: reads the files they name, applies defaults; errors name the field's line
//   static std::shared_ptr<EarlyResource> Prewarm(std::shared_ptr<const Options>, PipelineContext::Executor,
//                                                 const std::string&);
//       opens what the processor needs before its call's pipeline exists (early_resources.h)
//
// Registration runs from a static initializer. Built-in processors are
// compiled into an OBJECT library that is linked whole into every binary,
// so the linker cannot drop them (MediaPipe's alwayslink); plugins register
// when the runner dlopen()s them. The registration call carries the ABI
// version the code was compiled against, so a plugin built for another
// engine version is refused before any of its code touches engine types.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/call_values.h"
#include "framework/config.h"
#include "framework/early_resources.h"
#include "framework/options.h"
#include "framework/pipeline_context.h"
#include "framework/processor.h"
#include "framework/status.h"
#include "framework/stream_format.h"
#include "framework/version.h"

namespace voxpipe {

struct ProcessorDoc {
  std::string summary;      // one line
  std::string description;  // a paragraph or two
  std::string input;        // formats accepted, in words
  std::string output;       // formats produced, in words
  std::string example;      // YAML to paste into `pipeline:`
};

struct ProcessorType {
  std::string name;
  ProcessorDoc doc;
  std::vector<OptionInfo> options;
  std::string origin = "built-in";  // or the plugin's path
  // The server type the processor needs in its pipeline file (a transport's
  // "twilio"), from T::kServer; empty for any.
  std::string server;
  // Parses and validates options from the stage's YAML mapping (and, when
  // the class has Prepare, completes them: files read, defaults applied).
  std::function<Result<std::shared_ptr<const void>>(const ConfigNode&)> parse_options;
  // The output format for a given input, or an error saying what it accepts.
  std::function<Result<StreamFormat>(const void* options, const StreamFormat& input)> negotiate;
  std::function<ProcessorPtr(const std::shared_ptr<const void>& options)> create;
  // The options with a call's values ({call_sid}, {date}...) in their
  // strings, or null when they have none to take.
  std::function<std::shared_ptr<const void>(const void* options, const CallValues& values)> bind;
  // Opens the processor's early resource for a call (early_resources.h),
  // when the class has a static Prewarm; null otherwise.
  std::function<std::shared_ptr<EarlyResource>(const std::shared_ptr<const void>& options,
                                               const PipelineContext::Executor& executor, const std::string& call_id)>
      prewarm;
};

class ServiceType;

class Registry {
 public:
  static Registry& Instance();

  const ProcessorType* FindProcessor(const std::string& name) const;
  std::vector<std::string> ProcessorNames() const;
  const ServiceType* FindService(const std::string& name) const;
  std::vector<std::string> ServiceNames() const;

  // Plugin loading: registrations between Begin and End are attributed to
  // `origin`; End returns the first conflict or ABI mismatch among them and,
  // in that case, removes everything the plugin registered.
  void BeginPlugin(std::string origin);
  Status EndPlugin();

  // Called by the REGISTER_ macros; the signatures use only plain types so
  // that they stay callable across engine versions.
  bool AddProcessor(int abi_version, const char* name, void (*fill)(ProcessorType&));
  bool AddService(int abi_version, const char* name, void (*fill)(ServiceType&));

 private:
  bool CheckAdd(int abi_version, const std::string& name, const std::string& kind, bool exists);

  std::map<std::string, std::unique_ptr<ProcessorType>> processors_;
  std::map<std::string, std::unique_ptr<ServiceType>> services_;
  std::string origin_ = "built-in";
  bool in_plugin_ = false;
  std::vector<std::pair<std::string, bool>> plugin_names_;  // name, is service
  std::vector<std::string> plugin_errors_;
};

namespace registry_detail {

template <typename T, typename = void>
struct RequiredServer {
  static std::string Get() { return {}; }
};
template <typename T>
struct RequiredServer<T, std::void_t<decltype(T::kServer)>> {
  static std::string Get() { return T::kServer; }
};

template <typename T, typename = void>
struct HasPrewarm : std::false_type {};
template <typename T>
struct HasPrewarm<T, std::void_t<decltype(T::Prewarm(std::declval<std::shared_ptr<const typename T::Options>>(),
                                                     std::declval<const PipelineContext::Executor&>(),
                                                     std::declval<const std::string&>()))>> : std::true_type {};

template <typename T, typename = void>
struct HasPrepare : std::false_type {};
template <typename T>
struct HasPrepare<T, std::void_t<decltype(T::Prepare(std::declval<typename T::Options&>(), std::declval<const ConfigNode&>()))>>
    : std::true_type {};

template <typename T>
void FillProcessor(ProcessorType& type) {
  using Options = typename T::Options;
  type.doc = T::Doc();
  type.server = RequiredServer<T>::Get();
  type.options = Schema<Options>::Get().Describe();
  type.parse_options = [](const ConfigNode& node) -> Result<std::shared_ptr<const void>> {
    auto parsed = Schema<Options>::Get().Parse(node, {"type", "name"});
    if (!parsed.ok()) return parsed.status();
    if constexpr (HasPrepare<T>::value) {
      if (Status s = T::Prepare(*parsed, node); !s.ok()) return s;
    }
    return std::shared_ptr<const void>(std::make_shared<const Options>(std::move(parsed).value()));
  };
  type.negotiate = [](const void* options, const StreamFormat& input) {
    return T::Negotiate(*static_cast<const Options*>(options), input);
  };
  type.create = [](const std::shared_ptr<const void>& options) -> ProcessorPtr {
    auto typed = std::static_pointer_cast<const Options>(options);
    if constexpr (std::is_constructible_v<T, std::shared_ptr<const Options>>) {
      return std::make_unique<T>(std::move(typed));
    } else {
      return std::make_unique<T>(*typed);
    }
  };
  type.bind = [](const void* options, const CallValues& values) -> std::shared_ptr<const void> {
    auto bound = std::make_shared<Options>(*static_cast<const Options*>(options));
    int replaced = Schema<Options>::Get().ExpandStrings(
        *bound, [&values](std::string& text) { return ExpandCallValues(text, values); });
    return replaced > 0 ? bound : nullptr;
  };
  if constexpr (HasPrewarm<T>::value) {
    type.prewarm = [](const std::shared_ptr<const void>& options, const PipelineContext::Executor& executor,
                      const std::string& call_id) {
      return T::Prewarm(std::static_pointer_cast<const Options>(options), executor, call_id);
    };
  }
}

}  // namespace registry_detail
}  // namespace voxpipe

#define VOXPIPE_CONCAT_INNER(a, b) a##b
#define VOXPIPE_CONCAT(a, b) VOXPIPE_CONCAT_INNER(a, b)

#define REGISTER_PROCESSOR(T)                                                                 \
  [[maybe_unused]] static const bool VOXPIPE_CONCAT(voxpipe_registered_processor_, __LINE__) = \
      ::voxpipe::Registry::Instance().AddProcessor(VOXPIPE_ABI_VERSION, #T,                   \
                                                   &::voxpipe::registry_detail::FillProcessor<T>)

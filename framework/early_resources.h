// Early resources: what a processor opens for a call before the call's
// pipeline exists, so that the call does not wait for it. A server that
// learns of a call ahead of its media (Twilio's voice webhook comes before
// the stream) asks the pipeline to prewarm; a processor type that can
// (GeminiLiveLLM: its model session) declares
//
//   static std::shared_ptr<EarlyResource> Prewarm(std::shared_ptr<const Options>, PipelineContext::Executor,
//                                                 const std::string& call_id);
//
// (the options shared, so the resource can keep them without a copy),
//
// and, in Open(), takes its resource from the context's EarlyResources by
// its stage name. Everything of a call's early resources lives on the loop
// the call will run on; whatever no processor takes is closed.
#pragma once

#include <map>
#include <memory>
#include <string>

namespace voxpipe {

class EarlyResource {
 public:
  virtual ~EarlyResource() = default;
  // Lets go of everything; called on the resource's loop when no processor took it.
  virtual void Close() = 0;
};

// One call's early resources, by stage name. Used on the call's loop only.
class EarlyResources {
 public:
  void Add(std::string stage, std::shared_ptr<EarlyResource> resource) {
    by_stage_[std::move(stage)] = std::move(resource);
  }
  // The stage's resource, removed, when it is of type T; else null.
  template <typename T>
  std::shared_ptr<T> Take(const std::string& stage) {
    auto it = by_stage_.find(stage);
    if (it == by_stage_.end()) return nullptr;
    auto resource = std::dynamic_pointer_cast<T>(it->second);
    if (resource) by_stage_.erase(it);
    return resource;
  }
  // Closes what is left.
  void CloseAll() {
    auto left = std::move(by_stage_);
    by_stage_.clear();
    for (auto& [stage, resource] : left) resource->Close();
  }
  bool empty() const { return by_stage_.empty(); }
  size_t size() const { return by_stage_.size(); }

 private:
  std::map<std::string, std::shared_ptr<EarlyResource>> by_stage_;
};

}  // namespace voxpipe

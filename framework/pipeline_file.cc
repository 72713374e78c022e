#include "framework/pipeline_file.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "framework/plugin_loader.h"

namespace voxpipe {
namespace {

const std::vector<std::string> kTopLevelKeys = {"name", "description", "plugins", "server", "pipeline"};

Result<std::string> OptionalString(const ConfigNode& node) {
  if (node.IsNull()) return std::string();
  if (!node.IsScalar()) return node.Error("expected a string");
  return node.Scalar();
}

Status LoadPlugins(const ConfigNode& node, const std::string& base_dir, PipelineFile& file) {
  if (node.IsNull()) return OkStatus();
  if (!node.IsSequence()) return node.Error("'plugins' is a list of shared library paths");
  for (const auto& item : node.Items()) {
    auto path = item.Scalar();
    if (!path.ok()) return path.status();
    std::filesystem::path p(*path);
    if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
    if (Status s = LoadPlugin(p.string()); !s.ok()) return item.Error(s.message());
    file.plugins.push_back(p.string());
  }
  return OkStatus();
}

Status LoadService(const ConfigNode& node, PipelineFile& file) {
  if (node.IsNull()) return OkStatus();
  if (!node.IsMap()) return node.Error("'server' is a mapping with a 'type' and its options");
  ConfigNode type_node = node["type"];
  if (type_node.IsNull()) return node.Error("'server' needs a 'type' (e.g. `type: twilio`)");
  auto type_name = type_node.Scalar();
  if (!type_name.ok()) return type_name.status();
  file.service = Registry::Instance().FindService(*type_name);
  if (!file.service) {
    auto names = Registry::Instance().ServiceNames();
    return type_node.Error(fmt::format("unknown server type '{}'{}{}", *type_name, DidYouMean(*type_name, names),
                                       names.empty() ? "" : fmt::format(" (known: {})", fmt::join(names, ", "))));
  }
  auto options = file.service->parse_options(node);
  if (!options.ok()) return Status::Error(fmt::format("{} [server {}]", options.message(), file.service->name));
  file.service_options = std::move(options).value();
  return OkStatus();
}

Result<PipelineFile> Load(const ConfigNode& root, std::string base_dir, const std::vector<std::string>& extra_plugins) {
  if (!root.IsMap()) return root.Error("a pipeline file is a mapping with at least a 'pipeline' list");
  StatusList problems;
  for (const auto& kv : root.yaml()) {
    std::string key = kv.first.Scalar();
    if (std::find(kTopLevelKeys.begin(), kTopLevelKeys.end(), key) == kTopLevelKeys.end()) {
      problems.Add(root.Child(kv.first).Error(fmt::format("unknown key '{}'{} (expected one of: {})", key,
                                                          DidYouMean(key, kTopLevelKeys), fmt::join(kTopLevelKeys, ", "))));
    }
  }
  PipelineFile file;
  file.path = root.file();
  auto name = OptionalString(root["name"]);
  problems.Add(name.status());
  file.name = !name.ok() || name->empty() ? std::filesystem::path(root.file()).stem().string() : *name;
  auto description = OptionalString(root["description"]);
  problems.Add(description.status());
  if (description.ok()) file.description = *description;

  // Plugins register the types the rest refers to: a failure there stops here.
  for (const auto& plugin : extra_plugins) {
    if (Status s = LoadPlugin(plugin); !s.ok()) return s;
    file.plugins.push_back(plugin);
  }
  if (Status s = LoadPlugins(root["plugins"], base_dir, file); !s.ok()) return s;
  problems.Add(LoadService(root["server"], file));

  ConfigNode stages = root["pipeline"];
  if (stages.IsNull()) {
    problems.Add(root.Error("missing 'pipeline': the list of stages"));
    return problems.ToStatus();
  }
  auto pipeline = PipelineTemplate::Build(stages, file.name);
  if (!pipeline.ok()) {
    problems.Add(pipeline.status());
    return problems.ToStatus();
  }
  file.pipeline = std::move(pipeline).value();
  for (const Stage* stage : file.pipeline->Flatten()) {
    const std::string& needed = stage->type->server;
    if (needed.empty() || (file.service && file.service->name == needed)) continue;
    problems.Add(stage->node.Error(fmt::format("{} needs `server: {{type: {}}}` in the pipeline file{}",
                                               stage->type->name, needed,
                                               file.service ? fmt::format(" (this file has '{}')", file.service->name)
                                                            : "")));
  }
  if (file.service && file.service_options) {
    if (Status s = file.service->validate(file.service_options.get(), *file.pipeline); !s.ok()) {
      problems.Add(root["server"].Error(s.message()));
    }
  }
  if (!problems.empty()) return problems.ToStatus();
  return file;
}

}  // namespace

Result<PipelineFile> LoadPipelineFile(const std::string& path, const std::vector<std::string>& extra_plugins) {
  auto root = ConfigNode::LoadFile(path);
  if (!root.ok()) return root.status();
  std::string base_dir = std::filesystem::path(path).parent_path().string();
  return Load(*root, base_dir.empty() ? "." : base_dir, extra_plugins);
}

Result<PipelineFile> ParsePipeline(std::string_view yaml, std::string file_name, std::string base_dir,
                                   const std::vector<std::string>& extra_plugins) {
  auto root = ConfigNode::Parse(yaml, std::move(file_name));
  if (!root.ok()) return root.status();
  return Load(*root, std::move(base_dir), extra_plugins);
}

}  // namespace voxpipe

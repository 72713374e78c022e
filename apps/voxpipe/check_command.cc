// `voxpipe check PIPELINE.yaml` and `voxpipe graph PIPELINE.yaml`.
#include <fmt/format.h>

#include "apps/voxpipe/commands.h"

namespace voxpipe::cli {
namespace {

void PrintStages(const std::vector<Stage>& stages, int indent) {
  for (const auto& stage : stages) {
    if (stage.is_parallel()) {
      fmt::print("{:{}}parallel ({} branches)\n", "", indent, stage.branches.size());
      for (size_t i = 0; i < stage.branches.size(); ++i) {
        fmt::print("{:{}}branch {}:{}\n", "", indent + 2, i + 1,
                   stage.branches[i].empty() ? " (passes frames on)" : "");
        PrintStages(stage.branches[i], indent + 4);
      }
      continue;
    }
    fmt::print("{:{}}{:<24} {:<16} {} -> {}\n", "", indent, stage.name, stage.type->name, stage.input.ToString(),
               stage.output.ToString());
  }
}

}  // namespace

void AddCheckCommand(CLI::App& app, CommonFlags& common, int* exit_code) {
  auto* cmd = app.add_subcommand("check", "Validate pipeline files without running them (unset variables are warnings)");
  auto paths = std::make_shared<std::vector<std::string>>();
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("pipeline", *paths, "Pipeline YAML files")->required();
  cmd->add_flag("-q,--quiet", *quiet, "Print nothing when the files are valid");
  cmd->callback([=, &common] {
    for (const auto& path : *paths) {
      auto file = LoadForCommand(path, common, Strictness::kSecretsOptional);
      if (!file.ok()) {
        *exit_code = 1;
        continue;
      }
      if (*quiet) continue;
      fmt::print("{}: ok — pipeline '{}'{}\n", path, file->name,
                 file->service ? fmt::format(", served by '{}'", file->service->name) : "");
      PrintStages(file->pipeline->stages(), 2);
    }
  });
}

void AddGraphCommand(CLI::App& app, CommonFlags& common, int* exit_code) {
  auto* cmd = app.add_subcommand("graph", "Print pipelines as Graphviz DOT graphs (pipe into `dot -Tpng`)");
  auto paths = std::make_shared<std::vector<std::string>>();
  cmd->add_option("pipeline", *paths, "Pipeline YAML files")->required();
  cmd->callback([=, &common] {
    for (const auto& path : *paths) {
      auto file = LoadForCommand(path, common, Strictness::kSecretsOptional);
      if (!file.ok()) {
        *exit_code = 1;
        continue;
      }
      fmt::print("{}", file->pipeline->ToDot());
    }
  });
}

}  // namespace voxpipe::cli

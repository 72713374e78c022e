// The runner's subcommands. Each Add*Command() declares its flags on `app`
// and a callback that stores the process's exit status in `*exit_code`.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "framework/pipeline_file.h"

namespace voxpipe::cli {

struct CommonFlags {
  std::vector<std::string> plugins;
  std::string log_level = "info";
  std::string log_format = "text";
};

// `check` and `graph` validate a file without its secrets: unset variables
// are warnings there, and errors for `run`.
enum class Strictness { kStrict, kSecretsOptional };

void AddRunCommand(CLI::App& app, CommonFlags& common, int* exit_code);
void AddCheckCommand(CLI::App& app, CommonFlags& common, int* exit_code);
void AddGraphCommand(CLI::App& app, CommonFlags& common, int* exit_code);
void AddProcessorsCommand(CLI::App& app, CommonFlags& common, int* exit_code);
void AddCallCommand(CLI::App& app, CommonFlags& common, int* exit_code);
void AddTimelineCommand(CLI::App& app, CommonFlags& common, int* exit_code);

// Loads plugins named with --plugin; prints the error and returns false on failure.
bool LoadCommandPlugins(const CommonFlags& common);
// Loads a pipeline file with the --plugin libraries; prints errors (and
// warnings for unset variables with kSecretsOptional).
Result<PipelineFile> LoadForCommand(const std::string& path, const CommonFlags& common,
                                    Strictness strictness = Strictness::kStrict);
// "error: " before each line of the status's message.
void PrintError(const Status& status);

}  // namespace voxpipe::cli

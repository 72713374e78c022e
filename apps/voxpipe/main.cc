// voxpipe: runs, checks and inspects pipelines. See `voxpipe --help`.
#include <cstdio>

#include <fmt/format.h>

#include "apps/voxpipe/commands.h"
#include "framework/config.h"
#include "framework/logging.h"
#include "framework/plugin_loader.h"
#include "framework/version.h"

namespace voxpipe::cli {

bool LoadCommandPlugins(const CommonFlags& common) {
  for (const auto& plugin : common.plugins) {
    if (Status s = LoadPlugin(plugin); !s.ok()) {
      fmt::print(stderr, "error: {}\n", s.message());
      return false;
    }
  }
  return true;
}

Result<PipelineFile> LoadForCommand(const std::string& path, const CommonFlags& common) {
  auto file = LoadPipelineFile(path, common.plugins);
  if (!file.ok()) fmt::print(stderr, "error: {}\n", file.message());
  return file;
}

}  // namespace voxpipe::cli

int main(int argc, char** argv) {
  using namespace voxpipe;
  CLI::App app("voxpipe: real-time voice pipelines from YAML", "voxpipe");
  app.set_version_flag("--version", std::string("voxpipe ") + VOXPIPE_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  cli::CommonFlags common;
  app.add_option("--plugin", common.plugins, "Load processors from this shared library (repeatable)")
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", common.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();

  int exit_code = 0;
  cli::AddRunCommand(app, common, &exit_code);
  cli::AddCheckCommand(app, common, &exit_code);
  cli::AddGraphCommand(app, common, &exit_code);
  cli::AddProcessorsCommand(app, common, &exit_code);
  cli::AddCallCommand(app, common, &exit_code);

  app.parse_complete_callback([&] {
    if (Status s = InitLogging(common.log_level); !s.ok()) throw CLI::ValidationError("--log-level", s.message());
    if (Status s = LoadDotEnv(".env"); !s.ok()) throw CLI::ValidationError(".env", s.message());
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}

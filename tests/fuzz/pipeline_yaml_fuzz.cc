// YAML pipeline files: ConfigNode's parse (node, depth and size budgets),
// then building the pipeline from it with every built-in processor, as
// `voxpipe check` does. Inputs naming plugins are skipped: loading a shared
// object is not parsing. Run from an empty directory (scripts/fuzz.sh does):
// a pipeline may name files.
#include <cstdint>
#include <string_view>

#include <spdlog/spdlog.h>

#include "framework/config.h"
#include "framework/pipeline_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)quiet;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto node = voxpipe::ConfigNode::Parse(text, "fuzz.yaml");
  if (!node.ok()) return 0;
  if (text.find("plugin") != std::string_view::npos || text.find(".so") != std::string_view::npos) return 0;
  (void)voxpipe::ParsePipeline(text, "fuzz.yaml", ".");
  return 0;
}

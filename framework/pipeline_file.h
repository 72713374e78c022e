// A pipeline file: the YAML a user edits and `voxpipe run` takes.
//
//   name: phone_audio_roundtrip          # optional, defaults to the file name
//   description: ...                     # optional
//   plugins: [../build/lib/libx.so]      # optional, relative to this file
//   server:                              # optional: a service that makes
//     type: twilio                       # one instance per call
//     port: ${PORT:-8091}
//   pipeline:                            # the stages, in order
//     - type: WavFileSource
//       path: in.wav
//     - parallel:                        # branches that each get a copy
//         - - type: WavFileSink
//             path: copy.wav
//         - []                           # an empty branch passes frames on
//     - type: MulawDecoder
//
// Values may use ${VAR} and ${VAR:-default}.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "framework/config.h"
#include "framework/pipeline.h"
#include "framework/service.h"

namespace voxpipe {

struct PipelineFile {
  std::string path;
  std::string name;
  std::string description;
  std::vector<std::string> plugins;  // as resolved and loaded
  const ServiceType* service = nullptr;
  std::shared_ptr<const void> service_options;
  std::shared_ptr<const PipelineTemplate> pipeline;
};

// Reads, loads plugins (from the file and `extra_plugins`), builds and checks
// the pipeline. Errors name the file, the line and the field.
Result<PipelineFile> LoadPipelineFile(const std::string& path, const std::vector<std::string>& extra_plugins = {});

// Same, from text (tests); relative plugin paths resolve against `base_dir`.
Result<PipelineFile> ParsePipeline(std::string_view yaml, std::string file_name, std::string base_dir = ".",
                                   const std::vector<std::string>& extra_plugins = {});

}  // namespace voxpipe

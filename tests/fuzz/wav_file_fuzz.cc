// WAV files, as WavFileSource and the simulator read them (framework/audio):
// the input is written to a file and probed and read.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "framework/audio/wav_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    const char* dir = getenv("TMPDIR");
    return std::string(dir ? dir : "/tmp") + "/voxpipe_fuzz_wav_" + std::to_string(getpid()) + ".wav";
  }();
  FILE* file = fopen(path.c_str(), "wb");
  if (!file) return 0;
  fwrite(data, 1, size, file);
  fclose(file);
  (void)voxpipe::wav::Probe(path);
  auto audio = voxpipe::wav::Read(path);
  if (audio.ok()) (void)audio->samples();
  return 0;
}

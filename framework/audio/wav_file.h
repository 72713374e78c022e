// WAV files through libsndfile: 16-bit PCM or G.711 mu-law, any rate, mono
// or more channels. Used by the file processors, call recordings and the
// tools that play or record calls.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "framework/status.h"
#include "framework/stream_format.h"

namespace voxpipe::wav {

// A whole file in memory: `pcm` for PCM files, `mulaw` for mu-law files.
struct Audio {
  StreamFormat format;
  std::vector<int16_t> pcm;
  std::vector<uint8_t> mulaw;

  size_t samples() const { return format.kind == StreamFormat::Kind::kMulaw ? mulaw.size() : pcm.size(); }
};

// The format of a WAV file without reading its samples. Files that are not
// 16-bit PCM or mu-law are refused with a message naming their encoding.
Result<StreamFormat> Probe(const std::string& path);
Result<Audio> Read(const std::string& path);

// Writes samples as they come; the header is finalised on Close() or
// destruction.
class Writer {
 public:
  static Result<std::unique_ptr<Writer>> Open(const std::string& path, StreamFormat format);
  ~Writer();

  Status Write(std::span<const int16_t> pcm);
  Status Write(std::span<const uint8_t> mulaw);
  // Rewrites the header for what has been written so far, so the file is
  // valid up to here even if the process is killed before Close().
  void UpdateHeader();
  Status Close();
  const StreamFormat& format() const { return format_; }
  int64_t samples_written() const { return written_; }

 private:
  Writer(void* handle, std::string path, StreamFormat format) : handle_(handle), path_(std::move(path)), format_(format) {}
  // Accounts for a write of `expected` samples that reported `count`.
  Status Written(int64_t count, size_t expected);

  void* handle_;  // SNDFILE*
  std::string path_;
  StreamFormat format_;
  int64_t written_ = 0;
};

// Convenience for tests and tools.
Status WritePcm(const std::string& path, int sample_rate, std::span<const int16_t> samples);

}  // namespace voxpipe::wav

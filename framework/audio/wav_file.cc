#include "framework/audio/wav_file.h"

#include <sndfile.h>

#include <filesystem>

#include <fmt/format.h>

namespace voxpipe::wav {
namespace {

struct Closer {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using FilePtr = std::unique_ptr<SNDFILE, Closer>;

Result<StreamFormat> FormatOf(const SF_INFO& info, const std::string& path) {
  if ((info.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_WAV && (info.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_WAVEX) {
    return Status::Error(fmt::format("{}: not a WAV file", path));
  }
  switch (info.format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_16:
      return StreamFormat::Pcm16(info.samplerate, info.channels);
    case SF_FORMAT_ULAW:
      return StreamFormat::Mulaw(info.samplerate, info.channels);
    default: {
      SF_FORMAT_INFO sub{};
      sub.format = info.format & SF_FORMAT_SUBMASK;
      sf_command(nullptr, SFC_GET_FORMAT_INFO, &sub, sizeof(sub));
      return Status::Error(fmt::format("{}: WAV encoding '{}' is not supported; convert it to 16-bit PCM or mu-law "
                                       "(e.g. `sox in.wav -e signed -b 16 out.wav`)",
                                       path, sub.name ? sub.name : "unknown"));
    }
  }
}

Result<std::pair<FilePtr, SF_INFO>> OpenForReading(const std::string& path) {
  SF_INFO info{};
  FilePtr file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) return Status::Error(fmt::format("{}: cannot open WAV: {}", path, sf_strerror(nullptr)));
  return std::make_pair(std::move(file), info);
}

}  // namespace

Result<StreamFormat> Probe(const std::string& path) {
  auto opened = OpenForReading(path);
  if (!opened.ok()) return opened.status();
  return FormatOf(opened->second, path);
}

Result<Audio> Read(const std::string& path) {
  auto opened = OpenForReading(path);
  if (!opened.ok()) return opened.status();
  auto& [file, info] = *opened;
  auto format = FormatOf(info, path);
  if (!format.ok()) return format.status();
  Audio audio;
  audio.format = *format;
  size_t count = static_cast<size_t>(info.frames) * info.channels;
  if (format->kind == StreamFormat::Kind::kMulaw) {
    // Raw reads give the stored G.711 bytes, untouched by libsndfile's decoder.
    audio.mulaw.resize(count);
    audio.mulaw.resize(static_cast<size_t>(sf_read_raw(file.get(), audio.mulaw.data(), count)));
  } else {
    audio.pcm.resize(count);
    audio.pcm.resize(static_cast<size_t>(sf_read_short(file.get(), audio.pcm.data(), count)));
  }
  return audio;
}

Result<std::unique_ptr<Writer>> Writer::Open(const std::string& path, StreamFormat format) {
  if (!format.is_audio() || format.sample_rate <= 0) {
    return Status::Error(fmt::format("{}: cannot write {} to WAV", path, format.ToString()));
  }
  std::error_code ec;
  if (auto parent = std::filesystem::path(path).parent_path(); !parent.empty()) {
    std::filesystem::create_directories(parent, ec);
  }
  SF_INFO info{};
  info.samplerate = format.sample_rate;
  info.channels = format.channels;
  info.format = SF_FORMAT_WAV | (format.kind == StreamFormat::Kind::kMulaw ? SF_FORMAT_ULAW : SF_FORMAT_PCM_16);
  SNDFILE* handle = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!handle) return Status::Error(fmt::format("{}: cannot create WAV: {}", path, sf_strerror(nullptr)));
  return std::unique_ptr<Writer>(new Writer(handle, path, format));
}

Writer::~Writer() { Close(); }

Status Writer::Write(std::span<const int16_t> pcm) {
  if (format_.kind != StreamFormat::Kind::kPcm16) return Status::Error(fmt::format("{}: not open for PCM", path_));
  return Written(handle_ ? sf_write_short(static_cast<SNDFILE*>(handle_), pcm.data(), sf_count_t(pcm.size())) : -1,
                 pcm.size());
}

Status Writer::Write(std::span<const uint8_t> mulaw) {
  if (format_.kind != StreamFormat::Kind::kMulaw) return Status::Error(fmt::format("{}: not open for mu-law", path_));
  // Raw: the bytes are already G.711; libsndfile's encoder would re-quantise.
  return Written(handle_ ? sf_write_raw(static_cast<SNDFILE*>(handle_), mulaw.data(), sf_count_t(mulaw.size())) : -1,
                 mulaw.size());
}

Status Writer::Written(int64_t count, size_t expected) {
  if (!handle_) return Status::Error(fmt::format("{}: already closed", path_));
  if (count != int64_t(expected)) {
    return Status::Error(fmt::format("{}: write failed: {}", path_, sf_strerror(static_cast<SNDFILE*>(handle_))));
  }
  written_ += count;
  return OkStatus();
}

void Writer::UpdateHeader() {
  if (handle_) sf_command(static_cast<SNDFILE*>(handle_), SFC_UPDATE_HEADER_NOW, nullptr, 0);
}

Status Writer::Close() {
  if (!handle_) return OkStatus();
  int rc = sf_close(static_cast<SNDFILE*>(handle_));
  handle_ = nullptr;
  if (rc != 0) return Status::Error(fmt::format("{}: close failed: {}", path_, sf_error_number(rc)));
  return OkStatus();
}

Status WritePcm(const std::string& path, int sample_rate, std::span<const int16_t> samples) {
  auto writer = Writer::Open(path, StreamFormat::Pcm16(sample_rate));
  if (!writer.ok()) return writer.status();
  if (Status s = (*writer)->Write(samples); !s.ok()) return s;
  return (*writer)->Close();
}

}  // namespace voxpipe::wav

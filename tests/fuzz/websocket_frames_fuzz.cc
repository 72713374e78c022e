// WebSocket frames as a server connection reads a client's (masked) or the
// client reads a server's (unmasked): the first byte picks which, the size
// of the reads the rest is split into, and whether they are scatter reads
// that overflow into the spill buffer (and give growth back between them);
// every event is taken until an error.
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <cstring>

#include "framework/server/websocket_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using voxpipe::server::WebSocketReader;
  if (size < 1) return 0;
  const bool scatter = data[0] & 128;
  size_t step = scatter ? 1 + (data[0] % 64) * 97 : 1 + data[0] % 64;  // bytes per read
  auto from = data[0] & 64 ? WebSocketReader::From::kServer : WebSocketReader::From::kClient;
  data += 1;
  size -= 1;
  WebSocketReader reader(64 * 1024, 64, from);
  size_t offset = 0;
  while (offset < size && !reader.failed()) {
    if (scatter) {
      auto parts = reader.PrepareScatter(16);
      size_t n = std::min<size_t>({step, parts[0].size + parts[1].size, size - offset});
      size_t first = std::min(n, parts[0].size);
      memcpy(parts[0].data, data + offset, first);
      memcpy(parts[1].data, data + offset + first, n - first);
      reader.CommitScatter(n);
      offset += n;
    } else {
      size_t available = 0;
      uint8_t* space = reader.Prepare(step, available);
      size_t n = std::min<size_t>({step, available, size - offset});
      memcpy(space, data + offset, n);
      reader.Commit(n);
      offset += n;
    }
    for (auto event = reader.Next(); event.kind != WebSocketReader::Event::kNone; event = reader.Next()) {
      if (event.data.size() > 64 * 1024) abort();
      if (event.kind == WebSocketReader::Event::kError || event.kind == WebSocketReader::Event::kClose) {
        if (event.code < 1000 || event.code > 4999) abort();
        break;
      }
      volatile char sink = 0;
      for (char c : event.data) sink ^= c;  // touch every byte: ASan checks the view
    }
    if (scatter) reader.GiveBackGrowth();
    if (reader.buffer_capacity() > 2 * 64 * 1024 + 64 * 1024) abort();  // bounded by the message limit
  }
  return 0;
}

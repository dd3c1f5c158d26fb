#include "session_store.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace repro {

__attribute__((noinline)) SessionBuffer open_session_buffer(std::size_t size) {
  SessionBuffer b;
  b.bytes = static_cast<char*>(std::malloc(size));  // LEAK-SITE session-burst
  if (b.bytes == nullptr) throw std::bad_alloc();
  std::memset(b.bytes, 0x5a, size);
  b.size = size;
  return b;
}

void free_session_buffer(SessionBuffer& buffer) {
  std::free(buffer.bytes);
  buffer.bytes = nullptr;
  buffer.size = 0;
}

SessionStore::~SessionStore() {
  for (auto& [device, buffer] : open_) free_session_buffer(buffer);
  for (auto& [device, buffer] : resume_cache_) free_session_buffer(buffer);
}

void SessionStore::hello(const std::string& device) {
  auto it = open_.find(device);
  if (it != open_.end()) return;  // already open: a duplicate hello
  open_.emplace(device, open_session_buffer(buffer_bytes_));
}

void SessionStore::bye(const std::string& device) {
  auto it = open_.find(device);
  if (it == open_.end()) return;
  if (fixed_) {
    free_session_buffer(it->second);
  } else {
    // The bug: kept "for a quick resume", never looked up again and never bounded.
    resume_cache_.emplace(device, it->second);
  }
  open_.erase(it);
}

}  // namespace repro

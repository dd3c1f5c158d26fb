// A device gateway's sessions, each with a large receive buffer (firmware chunks are
// reassembled in it). A device says `hello` on its topic to open a session and `bye` to close
// it. The leaky store keeps a closed session's buffer in its resume cache, for a reconnect that
// may come, with no bound: one reconnect storm of 100 devices then holds 100 buffers of 1 MiB
// at once, the live heap bursts by 100 MiB, and under a container's memory limit the OOM
// killer ends the gateway (SIGKILL: no exit snapshot, only LEAKPROBE_PEAK's peak snapshot on
// disk says what filled memory). The twin (--fixed) frees the buffer when the session closes.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>

namespace repro {

struct SessionBuffer {
  std::size_t size = 0;
  char* bytes = nullptr;  // from open_session_buffer(), freed by free_session_buffer()
};

// Allocates a session's receive buffer and touches it (resident, as a real one being filled).
SessionBuffer open_session_buffer(std::size_t size);
void free_session_buffer(SessionBuffer& buffer);

class SessionStore {
 public:
  SessionStore(std::size_t buffer_bytes, bool fixed) : buffer_bytes_(buffer_bytes), fixed_(fixed) {}
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  void hello(const std::string& device);
  void bye(const std::string& device);
  std::size_t open_sessions() const { return open_.size(); }

 private:
  std::size_t buffer_bytes_;
  bool fixed_;
  std::map<std::string, SessionBuffer> open_;
  std::multimap<std::string, SessionBuffer> resume_cache_;  // the leaky store's, unbounded
};

}  // namespace repro

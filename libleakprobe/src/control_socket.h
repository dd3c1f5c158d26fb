// The control socket "\0leakprobe.<pid namespace>.<pid>" that `leakprobe snapshot PID` talks to:
// open it out of the host's descriptor numbering, check it is still ours before every use, read one
// request, send one reply. It knows nothing of snapshots: each request is a callback it is handed.
// Everything here runs on the writer thread (or in a fork child before that thread exists).
#pragma once

#include <atomic>
#include <cstddef>

namespace leakprobe {

// What the socket can be asked. The protocol (format::kControlRequest*): one line in, one
// line out, "ok <text>" or "error <message>".
// Each callback writes the reply text (after "ok ", or after "error " when it returns false)
// into `reply`.
struct ControlRequests {
  // "snapshot": the published file's path, or why it could not be written and the fix.
  bool (*snapshot)(char* reply, size_t size) = nullptr;
  // "enable" / "disable" (on = true / false) and "status".
  bool (*set_recording)(bool on, char* reply, size_t size) = nullptr;
  bool (*status)(char* reply, size_t size) = nullptr;
  // "peak": the newest peak snapshot's path (LEAKPROBE_PEAK), or why there is none.
  bool (*peak)(char* reply, size_t size) = nullptr;
  bool (*trim)(char* reply, size_t size) = nullptr;  // "trim": malloc_trim(0), RSS before/after
  // "detach": an attached probe puts the calls back (attach.h); nullptr when preloaded.
  bool (*detach)(char* reply, size_t size) = nullptr;
};

class ControlSocket {
 public:
  // Opens the listening socket for `pid` (close-on-exec, non-blocking, abstract: nothing in
  // the file system). False after one stderr line saying why and what it costs.
  bool open(int pid, const ControlRequests& requests);
  int fd() const { return fd_; }
  // The name it listens on (without the leading NUL); valid while fd() >= 0.
  const char* name() const { return name_; }

  // Nobody will ever serve the socket (the writer thread could not start): close it, so that
  // a client is refused at once instead of waiting for an answer that never comes.
  void close_unserved();

  // The socket polled readable (`revents`): accept one client and answer its request.
  // kRetryLater when a connection is waiting but no descriptor is free for it (the host
  // used them all): the caller leaves the socket out of its poll for a while instead of
  // spinning on it.
  enum class Served { kDone, kRetryLater };
  Served serve(short revents);

  // In a forked child: the inherited socket is the parent's; close it if the number still
  // holds it (the host may have reused it) and forget it. open() then makes the child's own.
  void forget_in_child();

 private:
  bool still_ours() const;
  void drop();  // the host closed our socket: say so once, never touch the number again
  void handle_client(int c);

  int fd_ = -1;
  char name_[64] = {};
  ControlRequests requests_;
  std::atomic<bool> lost_said_{false};
};

// The one instance.
ControlSocket& control_socket();

}  // namespace leakprobe

// Both ends of the control protocol in one process: the probe's ControlSocket (libleakprobe's
// core, no LD_PRELOAD) answers, the CLI's control_request asks. Every request word and both
// reply words go over a real socket and are read back by the CLI; and the CLI refuses a socket
// under the right name that another process holds.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "control_socket.h"
#include "leakprobe/cli/control_client.h"
#include "leakprobe/cli/control_socket_lookup.h"
#include "leakprobe/snapshot_format.h"
#include "pid_namespace.h"

using leakprobe::ControlRequests;
using leakprobe::ControlSocket;
using leakprobe::cli::control_request;
namespace format = leakprobe::format;

namespace {

bool g_recording = false;
bool g_snapshot_fails = false;

bool snapshot(char* reply, size_t size) {
  if (g_snapshot_fails) {
    snprintf(reply, size,
             "cannot create the snapshot file /d/x: Permission denied; make /d writable");
    return false;
  }
  snprintf(reply, size, "/snaps/leakprobe.7.0001.heap");
  return true;
}
bool set_recording(bool on, char* reply, size_t size) {
  snprintf(reply, size, "%s %s", on ? "recording" : "dormant", g_recording ? "on" : "off");
  g_recording = on;
  return true;
}
bool status(char* reply, size_t size) {
  snprintf(reply, size, "%s exact %s3/9 %s41", g_recording ? "recording" : "dormant",
           format::kControlStatusKept, format::kControlStatusSignal);
  return true;
}

// The probe's side: serves the socket from a thread until stopped.
class Probe {
 public:
  Probe() {
    ok_ = socket_.open(getpid(), ControlRequests{snapshot, set_recording, status});
    if (ok_) thread_ = std::thread([this] { serve(); });
  }
  ~Probe() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (socket_.fd() >= 0) close(socket_.fd());
  }
  bool ok() const { return ok_; }
  const char* name() const { return socket_.name(); }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{socket_.fd(), POLLIN, 0};
      if (poll(&p, 1, 50) > 0) socket_.serve(p.revents);
    }
  }
  ControlSocket socket_;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

constexpr auto kTimeout = std::chrono::seconds(5);

}  // namespace

TEST(ControlProtocol, TheSocketIsNamedAfterThePidNamespaceAndThePid) {
  Probe probe;
  ASSERT_TRUE(probe.ok());
  struct stat ns {};
  ASSERT_EQ(stat("/proc/self/ns/pid", &ns), 0);
  EXPECT_EQ(std::string(probe.name()),
            "leakprobe." + std::to_string(ns.st_ino) + "." + std::to_string(getpid()));
  EXPECT_EQ(leakprobe::own_pid_namespace(), static_cast<unsigned long long>(ns.st_ino));
  // And the CLI finds it listening.
  bool listed = false;
  for (const auto& s : leakprobe::cli::listening_control_sockets()) {
    if (s.name == probe.name()) {
      listed = true;
      EXPECT_EQ(s.inner_pid, getpid());
      EXPECT_EQ(leakprobe::cli::verified_holder(s), getpid());
    }
  }
  EXPECT_TRUE(listed) << "not in /proc/net/unix";
}

TEST(ControlProtocol, EveryRequestAndBothReplyWordsRoundTrip) {
  Probe probe;
  ASSERT_TRUE(probe.ok());
  g_recording = false;
  g_snapshot_fails = false;

  auto r = control_request(getpid(), format::kControlRequestSnapshot, kTimeout);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.text, "/snaps/leakprobe.7.0001.heap");

  r = control_request(getpid(), format::kControlRequestEnable, kTimeout);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.text, "recording off");
  r = control_request(getpid(), format::kControlRequestStatus, kTimeout);
  ASSERT_TRUE(r.ok) << r.error;
  const auto state = leakprobe::cli::parse_recording_state(r.text);
  EXPECT_TRUE(state.known);
  EXPECT_TRUE(state.recording);
  EXPECT_EQ(state.mode, "exact");
  EXPECT_EQ(state.kept, "3/9");
  EXPECT_EQ(state.signal, "41");
  r = control_request(getpid(), format::kControlRequestDisable, kTimeout);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.text, "dormant on");

  // The error word carries the probe's own reason, whole, to the CLI.
  g_snapshot_fails = true;
  r = control_request(getpid(), format::kControlRequestSnapshot, kTimeout);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.refused);
  EXPECT_EQ(r.error, "cannot create the snapshot file /d/x: Permission denied; make /d writable");
  const auto snap = leakprobe::cli::request_snapshot(getpid(), kTimeout);
  EXPECT_FALSE(snap.ok);
  EXPECT_EQ(snap.error,
            "the probe in pid " + std::to_string(getpid()) +
                " answered: cannot create the snapshot file /d/x: Permission denied; make /d "
                "writable");

  r = control_request(getpid(), "bogus\n", kTimeout);
  EXPECT_TRUE(r.refused);
  EXPECT_EQ(r.error.rfind("unknown request", 0), 0u) << r.error;
}

TEST(ControlProtocol, ReplyWordsParse) {
  using leakprobe::cli::parse_control_reply;
  const auto ok = parse_control_reply(std::string(format::kControlReplyOk) + "a b");
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.text, "a b");
  const auto error = parse_control_reply(std::string(format::kControlReplyError) + "why");
  EXPECT_FALSE(error.ok);
  EXPECT_TRUE(error.refused);
  EXPECT_EQ(error.error, "why");
  const auto bad = parse_control_reply("okay");
  EXPECT_FALSE(bad.ok);
  EXPECT_FALSE(bad.refused);
  EXPECT_NE(bad.error.find("malformed"), std::string::npos);
  EXPECT_FALSE(parse_control_reply(format::kControlReplyOk).ok) << "ok with no text";
}

// Another process binds this process's control socket name first (abstract names have no
// owner) and answers "ok /etc/shadow": the CLI must refuse it, whatever it says.
TEST(ControlProtocol, ASquatterUnderTheRightNameIsRefused) {
  char name[96];
  format::control_socket_name(name, sizeof(name), leakprobe::own_pid_namespace(), getpid());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t squatter = fork();
  ASSERT_GE(squatter, 0);
  if (squatter == 0) {
    alarm(20);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path + 1, name, strlen(name));
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + strlen(name));
    if (bind(s, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(s, 8) != 0) _exit(2);
    if (write(ready[1], "x", 1) != 1) _exit(3);
    for (;;) {
      int c = accept(s, nullptr, nullptr);
      if (c < 0) _exit(4);
      const char lie[] = "ok /etc/shadow\n";
      if (send(c, lie, sizeof(lie) - 1, MSG_NOSIGNAL) < 0) {
      }
      close(c);
    }
  }
  close(ready[1]);
  char x;
  ASSERT_EQ(read(ready[0], &x, 1), 1);
  close(ready[0]);
  for (const char* request : {format::kControlRequestSnapshot, format::kControlRequestDisable,
                              format::kControlRequestStatus}) {
    const auto r = control_request(getpid(), request, kTimeout);
    EXPECT_FALSE(r.ok) << request;
    EXPECT_FALSE(r.refused) << "the squatter's answer must not be taken as the probe's";
    EXPECT_EQ(r.text, "");
    EXPECT_NE(r.error.find("refusing"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("held by pid " + std::to_string(squatter)), std::string::npos)
        << r.error;
  }
  // A probe cannot open a name that is taken, and says so (its start-up line then leaves
  // the socket out: see the seccomp test).
  ControlSocket late;
  EXPECT_FALSE(late.open(getpid(), ControlRequests{snapshot, set_recording, status}));
  kill(squatter, SIGKILL);
  waitpid(squatter, nullptr, 0);
}

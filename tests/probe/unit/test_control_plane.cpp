// The control plane's pieces driven one by one, without LD_PRELOAD or a writer thread: the
// signal trigger's flag and hiding, and the control socket's request/reply and its
// still-ours check.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <string>

#include "control_socket.h"
#include "leakprobe/snapshot_format.h"
#include "pid_namespace.h"
#include "signal_trigger.h"

using leakprobe::ControlRequests;
using leakprobe::ControlSocket;

namespace {

// A pid no process can have (above the kernel's maximum), unique to this test process.
int fake_pid() { return 4194304 + getpid(); }

int connect_to(int pid) {
  int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  char name[64];
  leakprobe::format::control_socket_name(name, sizeof(name), leakprobe::own_pid_namespace(), pid);
  memcpy(addr.sun_path + 1, name, strlen(name));
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + strlen(name));
  if (connect(c, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    close(c);
    return -1;
  }
  return c;
}

std::string read_all(int c) {
  std::string s;
  char buf[256];
  ssize_t n;
  while ((n = read(c, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

int g_snapshots = 0;
bool fake_snapshot(char* reply, size_t size) {
  ++g_snapshots;
  snprintf(reply, size, "/snaps/leakprobe.1.0001.heap");
  return true;
}

std::string ask(ControlSocket& cs, const char* request) {
  int c = connect_to(fake_pid());
  EXPECT_GE(c, 0);
  EXPECT_EQ(write(c, request, strlen(request)), static_cast<ssize_t>(strlen(request)));
  EXPECT_EQ(cs.serve(POLLIN), ControlSocket::Served::kDone);
  std::string reply = read_all(c);
  close(c);
  return reply;
}

}  // namespace

TEST(ControlSocket, AnswersASnapshotRequestThroughItsCallback) {
  ControlSocket cs;
  ASSERT_TRUE(cs.open(fake_pid(), ControlRequests{fake_snapshot}));
  EXPECT_GE(cs.fd(), 100) << "kept out of the host's low numbers";
  g_snapshots = 0;
  EXPECT_EQ(ask(cs, "snapshot\n"), "ok /snaps/leakprobe.1.0001.heap\n");
  EXPECT_EQ(g_snapshots, 1);
  EXPECT_EQ(ask(cs, "bogus\n"),
            "error unknown request (expected \"snapshot\", \"peak\", \"enable\", \"disable\", "
            "\"status\", \"trim\" or \"detach\")\n");
  EXPECT_EQ(g_snapshots, 1);
  // A preloaded probe has no detach to offer: a clear answer, not "unknown request".
  EXPECT_EQ(ask(cs, "detach\n"),
            "error the probe was preloaded, not attached: nothing to put back (use disable)\n");
  // Without recording callbacks (as here) those requests are unknown too.
  EXPECT_EQ(ask(cs, "enable\n").rfind("error unknown request", 0), 0u);
  close(cs.fd());
}

namespace {
bool g_recording = false;
bool fake_set_recording(bool on, char* reply, size_t size) {
  snprintf(reply, size, "%s %s", on ? "recording" : "dormant", g_recording ? "on" : "off");
  g_recording = on;
  return true;
}
bool fake_status(char* reply, size_t size) {
  snprintf(reply, size, "%s exact", g_recording ? "recording" : "dormant");
  return true;
}
bool refusing_status(char* reply, size_t size) {
  snprintf(reply, size, "the probe stopped after an error");
  return false;
}
}  // namespace

TEST(ControlSocket, SwitchesRecordingAndReportsItsState) {
  ControlSocket cs;
  ASSERT_TRUE(cs.open(fake_pid(), ControlRequests{fake_snapshot, fake_set_recording, fake_status}));
  g_recording = false;
  EXPECT_EQ(ask(cs, "status\n"), "ok dormant exact\n");
  EXPECT_EQ(ask(cs, "enable\n"), "ok recording off\n");
  EXPECT_TRUE(g_recording);
  EXPECT_EQ(ask(cs, "status\n"), "ok recording exact\n");
  EXPECT_EQ(ask(cs, "disable\n"), "ok dormant on\n");
  EXPECT_FALSE(g_recording);
  close(cs.fd());
  ControlSocket refusing;
  ASSERT_TRUE(refusing.open(fake_pid(), ControlRequests{fake_snapshot, nullptr, refusing_status}));
  EXPECT_EQ(ask(refusing, "status\n"), "error the probe stopped after an error\n");
  close(refusing.fd());
}

TEST(ControlSocket, LeavesANumberTheHostReusedAlone) {
  ControlSocket cs;
  ASSERT_TRUE(cs.open(fake_pid(), ControlRequests{fake_snapshot}));
  const int ours = cs.fd();
  // The host closes "all" descriptors and puts a listening socket of its own on the number.
  close(ours);
  int host = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(dup2(host, ours), ours);
  close(host);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const char kName[] = "leakprobe-test-host-socket";
  memcpy(addr.sun_path + 1, kName, sizeof(kName) - 1);
  ASSERT_EQ(bind(ours, reinterpret_cast<sockaddr*>(&addr),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + sizeof(kName))),
            0);
  ASSERT_EQ(listen(ours, 1), 0);
  EXPECT_EQ(cs.serve(POLLIN), ControlSocket::Served::kDone);
  EXPECT_EQ(cs.fd(), -1) << "the socket is forgotten, never closed or accepted on";
  cs.forget_in_child();  // must not close the host's descriptor either
  EXPECT_EQ(fcntl(ours, F_GETFD), 0 /* still open, no close-on-exec of ours */);
  close(ours);
}

TEST(SignalTrigger, HandlerOnlyRaisesAFlagAndIsHiddenFromTheHost) {
  leakprobe::SignalTrigger& t = leakprobe::signal_trigger();
  const int sig = SIGRTMIN + 5;
  t.install(sig);
  ASSERT_TRUE(t.is_ours(sig));
  EXPECT_FALSE(t.is_ours(sig + 1));
  EXPECT_FALSE(t.take_pending());
  raise(sig);
  EXPECT_TRUE(t.take_pending());
  EXPECT_FALSE(t.take_pending()) << "one request per delivery";

  struct sigaction current {};
  ASSERT_EQ(sigaction(sig, nullptr, &current), 0);
  EXPECT_TRUE(current.sa_flags & SA_SIGINFO);
  t.hide_own_handler(&current);
  EXPECT_EQ(current.sa_handler, SIG_DFL) << "the host sees what it would see without the probe";

  t.release();
  EXPECT_FALSE(t.on());
  EXPECT_FALSE(t.is_ours(sig));
  signal(sig, SIG_DFL);
}

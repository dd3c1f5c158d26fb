// Finding a probe's control socket and proving who holds it. Abstract unix sockets have no
// permissions: any process in the network namespace may bind "@leakprobe.<ns>.<pid>" first
// (a squatter), and two pid namespaces that share a network namespace hold the same pids. So
// the name only says where to knock; the answer counts only if the kernel's SO_PEERCRED says
// the listener is the process the user named, under an expected uid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace leakprobe::cli {

// What /proc/PID/status tells every user about a process (it stays readable after the
// process changed its user and became non-dumpable, unlike /proc/PID/maps and ns/).
struct TargetIdentity {
  bool exists = false;
  long inner_pid = 0;       // its pid in its own pid namespace (NSpid's last field)
  std::vector<uid_t> uids;  // real, effective, saved, file-system
  // Its pid namespace's inode, when this user may read /proc/PID/ns/pid or the process is in
  // the same pid namespace as /proc's view.
  bool ns_known = false;
  unsigned long long ns = 0;
};
TargetIdentity target_identity(int pid);

// A listening control socket found in /proc/net/unix: "@leakprobe.<ns>.<pid>".
struct ControlSocketName {
  std::string name;  // without the leading '@' (NUL)
  unsigned long long ns = 0;
  long inner_pid = 0;
};
// Every listening control socket of this network namespace (at most `limit`).
std::vector<ControlSocketName> listening_control_sockets(size_t limit = 1024);

// A connection to the control socket of `pid` whose listener the kernel vouches for.
struct VerifiedConnection {
  int fd = -1;       // owned by the caller; -1 if none
  std::string name;  // the socket's name (without '@')
  // When fd < 0: one line for the user if some socket answered to the name but its holder
  // failed the check ("held by pid Q (uid U), not by pid P"); empty if no socket was there.
  std::string refusal;
  std::string tried;  // the name tried first, for messages
  int connect_errno = 0;
};
// Connects to the control socket of `pid` (as this process numbers pids) and checks its
// holder: SO_PEERCRED pid == pid, uid root, ours or one of the target's. Nothing is sent.
VerifiedConnection connect_verified(int pid, std::chrono::milliseconds timeout);

// The pid (in this process's pid namespace) holding the listening socket `name`, if the
// holder is really the process the name says (its own pid and namespace), else 0.
int verified_holder(const ControlSocketName& socket);

}  // namespace leakprobe::cli

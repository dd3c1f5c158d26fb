// attach's preflight decision over fake /proc views: one test per refusal, each proving that one
// fact alone is enough to refuse, and that the line says what to do instead. The parsers and the
// ELF reader run on real text and real files.
#include "leakprobe/cli/attach_preflight.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

using namespace leakprobe::cli;

namespace {

// A process that passes every check: same user, dynamic glibc program, nothing attached.
ProcessView attachable() {
  ProcessView v;
  v.pid = 4242;
  v.exists = true;
  v.status.parsed = true;
  v.status.state = 'S';
  v.status.uid[0] = v.status.uid[1] = v.status.uid[2] = 1000;
  v.my_uid = 1000;
  v.ptrace_scope = 0;
  v.maps_readable = true;
  v.map_paths = {"/usr/sbin/mosquitto", "/usr/lib/x86_64-linux-gnu/libc.so.6"};
  v.exe.readable = true;
  v.exe.has_interp = true;
  v.libc_found = true;
  v.libc_path = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  v.libc.readable = true;
  v.libc.defines_dlopen = true;
  return v;
}

void expect_refused(const ProcessView& v, const std::string& words) {
  const Verdict verdict = judge_attach(v);
  EXPECT_FALSE(verdict.ok);
  EXPECT_NE(verdict.reason.find(words), std::string::npos) << verdict.reason;
  EXPECT_EQ(verdict.reason.find('\n'), std::string::npos) << "one line: " << verdict.reason;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(AttachPreflight, AttachablePasses) {
  const Verdict verdict = judge_attach(attachable());
  EXPECT_TRUE(verdict.ok) << verdict.reason;
}

TEST(AttachPreflight, MissingAndExitingProcesses) {
  ProcessView v = attachable();
  v.exists = false;
  expect_refused(v, "no process with pid 4242");
  v = attachable();
  v.status.state = 'Z';
  expect_refused(v, "is exiting");
  v = attachable();
  v.kernel_thread = true;
  expect_refused(v, "kernel thread");
}

TEST(AttachPreflight, AnotherUidWithoutCapSysPtrace) {
  ProcessView v = attachable();
  v.status.uid[1] = 0;
  expect_refused(v, "runs as uid 0 and you are uid 1000: attach as that user, or as root");
  v.status.uid[1] = 1000;
  v.status.uid[2] = 0;  // a saved set-user-id is enough for the kernel to refuse
  expect_refused(v, "attach as that user, or as root");
  v.have_cap_sys_ptrace = true;  // root may
  EXPECT_TRUE(judge_attach(v).ok);
}

TEST(AttachPreflight, NotDumpableNeedsRoot) {
  ProcessView v = attachable();
  v.dumpable = false;
  expect_refused(v, "only root (CAP_SYS_PTRACE)");
  v.have_cap_sys_ptrace = true;
  EXPECT_TRUE(judge_attach(v).ok);
}

TEST(AttachPreflight, YamaPtraceScope) {
  ProcessView v = attachable();
  v.ptrace_scope = 3;
  v.have_cap_sys_ptrace = true;  // 3 refuses even root
  expect_refused(v, "ptrace_scope is 3");
  v.ptrace_scope = 2;
  EXPECT_TRUE(judge_attach(v).ok);
  v.have_cap_sys_ptrace = false;
  expect_refused(v, "ptrace_scope is 2: only root (CAP_SYS_PTRACE)");
  v.ptrace_scope = 1;
  expect_refused(v, "ptrace_scope is 1: only a parent");
  v.is_descendant = true;
  EXPECT_TRUE(judge_attach(v).ok);
  v.is_descendant = false;
  v.ptrace_scope = -1;  // no Yama at all
  EXPECT_TRUE(judge_attach(v).ok);
}

TEST(AttachPreflight, ProbeAlreadyLoadedPointsToEnable) {
  ProcessView v = attachable();
  v.probe_preloaded = true;
  v.map_paths.push_back("/usr/lib/x86_64-linux-gnu/libleakprobe.so");
  expect_refused(v, "already has the probe loaded: `leakprobe enable 4242`");
  v = attachable();
  v.probe_preloaded = true;
  v.map_paths.push_back("/opt/lp/lib/libleakprobe.so (deleted)");
  expect_refused(v, "leakprobe enable 4242");
}

// A probe an earlier attach loaded (and a detach left mapped, dormant) is attached again.
TEST(AttachPreflight, AProcessThatGaveBackItsMemoryIsExiting) {
  ProcessView v = attachable();
  v.memory_gone = true;
  v.maps_readable = false;
  expect_refused(v, "is exiting");
}

TEST(AttachPreflight, ProbeLeftByAnEarlierAttachPasses) {
  ProcessView v = attachable();
  v.map_paths.push_back("/usr/lib/x86_64-linux-gnu/libleakprobe.so");
  EXPECT_TRUE(judge_attach(v).ok);
}

TEST(AttachPreflight, AnotherTracer) {
  ProcessView v = attachable();
  v.status.tracer_pid = 77;
  v.tracer_name = "strace";
  expect_refused(v, "already traced by pid 77 (strace)");
}

TEST(AttachPreflight, Seccomp) {
  ProcessView v = attachable();
  v.status.seccomp = 2;
  expect_refused(v, "runs under seccomp (a filter)");
  v.status.seccomp = 1;
  expect_refused(v, "runs under seccomp (strict mode)");
}

TEST(AttachPreflight, GoProgramPointsToPprof) {
  ProcessView v = attachable();
  v.exe.is_go = true;
  expect_refused(v, "is a Go program");
  expect_refused(v, "/debug/pprof/heap");
}

TEST(AttachPreflight, StaticProgram) {
  ProcessView v = attachable();
  v.exe.has_interp = false;
  v.libc_found = false;
  v.map_paths = {"/usr/local/bin/static-thing"};
  expect_refused(v, "statically linked");
}

TEST(AttachPreflight, NoDlopenInLibc) {
  ProcessView v = attachable();
  v.libc.defines_dlopen = false;
  expect_refused(v, "exports no dlopen");
  v = attachable();
  v.libc_found = false;
  expect_refused(v, "no C library mapped");
}

TEST(AttachPreflight, ParsesStatus) {
  const StatusFields f = parse_status(
      "Name:\tmosquitto\nState:\tS (sleeping)\nTracerPid:\t12\nUid:\t1000\t1001\t1002\t1003\n"
      "Seccomp:\t2\nSeccomp_filters:\t1\n");
  EXPECT_TRUE(f.parsed);
  EXPECT_EQ(f.state, 'S');
  EXPECT_EQ(f.tracer_pid, 12);
  EXPECT_EQ(f.uid[0], 1000u);
  EXPECT_EQ(f.uid[1], 1001u);
  EXPECT_EQ(f.uid[2], 1002u);
  EXPECT_EQ(f.seccomp, 2);
  EXPECT_FALSE(parse_status("").parsed);
  EXPECT_FALSE(parse_status("garbage\n\n:::\nUid:\tx\n").parsed);
}

TEST(AttachPreflight, ParsesMapPaths) {
  const auto paths = parse_map_paths(
      "55d0-55d1 r--p 00000000 08:01 123   /usr/sbin/mosquitto\n"
      "55d1-55d2 r-xp 00001000 08:01 123   /usr/sbin/mosquitto\n"
      "7f00-7f01 rw-p 00000000 00:00 0 \n"
      "7f01-7f02 rw-p 00000000 00:00 0     [heap]\n"
      "7f02-7f03 r-xp 00000000 08:01 9     /opt/my dir/libx.so (deleted)\n"
      "truncated line\n");
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths[0], "/usr/sbin/mosquitto");
  EXPECT_EQ(paths[1], "/opt/my dir/libx.so (deleted)");
}

// The ELF reader on this very test program and the libraries it runs on.
TEST(AttachPreflight, InspectsRealElfFiles) {
  const ElfFacts self = inspect_elf("/proc/self/exe");
  ASSERT_TRUE(self.readable) << self.error;
  EXPECT_TRUE(self.has_interp);
  EXPECT_FALSE(self.is_go);
  EXPECT_FALSE(self.defines_dlopen);  // it imports dlopen at most

  std::string libc, libm;
  for (const auto& p : parse_map_paths(slurp("/proc/self/maps"))) {
    const std::string name = p.substr(p.rfind('/') + 1);
    if (name.rfind("libc.so", 0) == 0 && libc.empty()) libc = p;
    if (name.rfind("libm.so", 0) == 0 && libm.empty()) libm = p;
  }
  ASSERT_FALSE(libc.empty());
  const ElfFacts c = inspect_elf(libc);
  ASSERT_TRUE(c.readable) << c.error;
  EXPECT_TRUE(c.defines_dlopen) << libc << " (glibc >= 2.34 exports dlopen)";
  if (!libm.empty()) {
    const ElfFacts m = inspect_elf(libm);
    ASSERT_TRUE(m.readable) << m.error;
    EXPECT_FALSE(m.defines_dlopen) << libm;
  }

  EXPECT_FALSE(inspect_elf("/nonexistent/file").readable);
  EXPECT_FALSE(inspect_elf("/proc/self/status").readable);  // not a regular file
  char tmpl[] = "/tmp/lp_attach_elf_XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  // An ELF header that claims section and program tables far past the end of the file.
  unsigned char bogus[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  bogus[0x20] = 0xff;  // e_phoff
  bogus[0x28] = 0xff;  // e_shoff
  bogus[0x36] = 56;    // e_phentsize
  bogus[0x38] = 0xff;  // e_phnum
  bogus[0x3a] = 64;    // e_shentsize
  bogus[0x3c] = 0xff;  // e_shnum
  ASSERT_EQ(write(fd, bogus, sizeof(bogus)), static_cast<ssize_t>(sizeof(bogus)));
  close(fd);
  const ElfFacts b = inspect_elf(tmpl);
  unlink(tmpl);
  EXPECT_TRUE(b.readable);
  EXPECT_FALSE(b.has_interp);
  EXPECT_FALSE(b.defines_dlopen);
}

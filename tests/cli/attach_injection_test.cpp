// The pure parts of `leakprobe attach`'s injection: the system call restart rule, the choice of
// a safe moment and thread, the maps parser and the allocator's range in the real libc. The
// ptrace parts run against real processes in attach_mechanics.sh.
#include <errno.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <cstdlib>

#include "interrupted_call.h"
#include "leakprobe/cli/attach_safety.h"
#include "leakprobe/cli/syscall_restart.h"
#include "leakprobe/cli/target_symbols.h"

using namespace leakprobe::cli;

TEST(SyscallRestart, RestartCodesResumeTheSameCall) {
  for (long code : {kERestartSys, kERestartNoIntr, kERestartNoHand}) {
    user_regs_struct r = in_call(SYS_read, -code);
    EXPECT_TRUE(resume_interrupted_call(r, false));
    EXPECT_EQ(r.rax, static_cast<unsigned long long>(SYS_read));
    EXPECT_EQ(r.rip, 0x1000u);
    EXPECT_EQ(static_cast<long>(r.orig_rax), -1);
  }
}

TEST(SyscallRestart, RestartBlockGoesThroughRestartSyscall) {
  user_regs_struct r = in_call(SYS_nanosleep, -kERestartRestartBlock);
  EXPECT_TRUE(resume_interrupted_call(r, true));
  EXPECT_EQ(r.rax, static_cast<unsigned long long>(SYS_restart_syscall));
  EXPECT_EQ(r.rip, 0x1000u);
}

TEST(SyscallRestart, EintrOnlyForCallsThatStopsInterruptAndOnlyWhenNoSignalIsPending) {
  user_regs_struct r = in_call(SYS_epoll_wait, -EINTR);
  EXPECT_FALSE(resume_interrupted_call(r, false));  // a signal may be why: leave it
  EXPECT_EQ(r.rip, 0x1002u);
  EXPECT_TRUE(resume_interrupted_call(r, true));
  EXPECT_EQ(r.rax, static_cast<unsigned long long>(SYS_epoll_wait));
  r = in_call(SYS_recvfrom, -EINTR);  // a socket with SO_RCVTIMEO: the stop's EINTR
  EXPECT_TRUE(resume_interrupted_call(r, true));
  EXPECT_EQ(r.rax, static_cast<unsigned long long>(SYS_recvfrom));
  r = in_call(SYS_connect, -EINTR);  // run again it would say EALREADY: left as it is
  EXPECT_FALSE(resume_interrupted_call(r, true));
}

TEST(SyscallRestart, FinishedCallsAndUserCodeAreLeftAlone) {
  user_regs_struct r = in_call(SYS_read, 5);
  EXPECT_FALSE(resume_interrupted_call(r, true));
  r = in_call(-1, -kERestartSys);  // not in a system call: rax is just a register
  EXPECT_FALSE(resume_interrupted_call(r, true));
  EXPECT_EQ(r.rip, 0x1002u);
  disarm_restart(r);
  EXPECT_EQ(static_cast<long>(r.orig_rax), -1);
}

namespace {
ThreadView thread(pid_t tid, uint64_t rip, long nr = -1, long ret = 0) {
  ThreadView t;
  t.tid = tid;
  t.regs = in_call(nr, ret);
  t.regs.rip = rip;
  t.stack_room = 8 << 20;
  return t;
}
const std::vector<AddressRange> kUnsafe = {
    {0x5000, 0x6000, "malloc (libc.so.6)"},
    {0x9000, 0xa000, "the dynamic loader (ld.so)", false, true}};
}  // namespace

TEST(AttachSafety, AThreadInsideMallocOrTheLoaderMeansWait) {
  auto v = judge_threads({thread(1, 0x100), thread(2, 0x5800)}, kUnsafe);
  EXPECT_FALSE(v.safe);
  EXPECT_EQ(v.why, "thread 2 is inside malloc (libc.so.6)");
  ThreadView in_mmap = thread(3, 0x100, SYS_mmap, -kERestartSys);
  in_mmap.stack_words = {0x7777, 0x9123};  // mmap, called from the loader
  v = judge_threads({thread(1, 0x100), in_mmap}, kUnsafe);
  EXPECT_FALSE(v.safe);
  EXPECT_EQ(v.why, "thread 3 is in a call from the dynamic loader (ld.so)");
}

// An idle broker's main thread waits in epoll_wait with a live frame slot that still holds a
// return address into malloc from an earlier call: stale, since malloc never waits there. Seen
// on Debian's mosquitto after a few clients came and went (every attach refused).
TEST(AttachSafety, AStaleMallocAddressOnAWaitingThreadsStackIsNotACall) {
  ThreadView idle = thread(1, 0x100, SYS_epoll_wait, -EINTR);
  idle.stack_words = {0x7777, 0x5123};
  EXPECT_TRUE(judge_threads({idle}, kUnsafe).safe);
  ThreadView locked = thread(2, 0x100, SYS_futex, -kERestartSys);  // a lock wait may be malloc's
  locked.stack_words = {0x7777, 0x5123};
  auto v = judge_threads({locked}, kUnsafe);
  EXPECT_FALSE(v.safe);
  EXPECT_EQ(v.why, "thread 2 is in a call from malloc (libc.so.6)");
  ThreadView ctor = thread(3, 0x100, SYS_nanosleep, -kERestartRestartBlock);
  ctor.stack_words = {0x7777, 0x9123};  // a constructor run by dlopen may wait in anything
  v = judge_threads({ctor}, kUnsafe);
  EXPECT_FALSE(v.safe);
  EXPECT_EQ(v.why, "thread 3 is in a call from the dynamic loader (ld.so)");
}

TEST(AttachSafety, TheProbesOwnWaitingThreadsDoNotBlock) {
  std::vector<AddressRange> unsafe = kUnsafe;
  unsafe.push_back({0xb000, 0xc000, "the probe (libleakprobe.so)", true});
  ThreadView writer = thread(5, 0x100, SYS_nanosleep, -kERestartRestartBlock);
  writer.stack_words = {0xb400};  // its frames in the probe, waiting in libc
  EXPECT_TRUE(judge_threads({thread(1, 0x100), writer}, unsafe).safe);
  auto v = judge_threads({thread(1, 0x100), thread(6, 0xb123)}, unsafe);
  EXPECT_FALSE(v.safe);  // but a thread running the probe's code is waited for
  EXPECT_EQ(v.why, "thread 6 is inside the probe (libleakprobe.so)");
}

TEST(AttachSafety, PrefersAThreadWaitingInARestartableCall) {
  std::vector<ThreadView> threads = {
      thread(1, 0x100), thread(2, 0x200, SYS_nanosleep, -kERestartRestartBlock),
      thread(3, 0x300, SYS_epoll_wait, -EINTR), thread(4, 0x400, SYS_read, -kERestartSys)};
  auto v = judge_threads(threads, kUnsafe);
  ASSERT_TRUE(v.safe);
  EXPECT_EQ(threads[v.executor].tid, 3);
  threads[2].in_signal_stop = true;  // held in a signal's delivery-stop: never the executor
  threads[3].stack_room = 4096;      // too little stack for dlopen
  v = judge_threads(threads, kUnsafe);
  ASSERT_TRUE(v.safe);
  EXPECT_EQ(threads[v.executor].tid, 2);
  threads[1].stack_room = 0;
  threads[0].stack_room = 0;
  v = judge_threads(threads, kUnsafe);
  EXPECT_FALSE(v.safe);
  EXPECT_NE(v.why.find("KiB of stack free"), std::string::npos) << v.why;
}

TEST(TargetSymbols, ParsesMaps) {
  const auto maps = parse_maps(
      "7f00a000-7f00b000 r-xp 00002000 08:01 1234                       "
      "/usr/lib/x86_64-linux-gnu/libc.so.6\n"
      "7ffc0000-7ffc2000 rw-p 00000000 00:00 0                          [stack]\n"
      "7f00c000-7f00d000 rw-p 00000000 00:00 0 \n"
      "garbage\n");
  ASSERT_EQ(maps.size(), 3u);
  EXPECT_EQ(maps[0].start, 0x7f00a000u);
  EXPECT_EQ(maps[0].end, 0x7f00b000u);
  EXPECT_EQ(maps[0].offset, 0x2000u);
  EXPECT_EQ(maps[0].perms, "r-xp");
  EXPECT_EQ(maps[0].path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
  EXPECT_EQ(maps[1].path, "[stack]");
  EXPECT_EQ(maps[2].path, "");
}

// This process's own libc, found and read the way a target's is: dlopen resolves to the very
// function we call, and the allocator's range holds malloc, free and calloc but not dlopen.
TEST(TargetSymbols, ResolvesThisProcesssLibc) {
  std::string error;
  const auto maps = read_maps(getpid(), error);
  ASSERT_TRUE(error.empty()) << error;
  std::string libc;
  for (const auto& e : maps) {
    const auto slash = e.path.rfind('/');
    if (slash != std::string::npos && e.path.compare(slash + 1, 7, "libc.so") == 0) libc = e.path;
  }
  ASSERT_FALSE(libc.empty());
  const LoadedModule m = load_module(getpid(), maps, libc);
  ASSERT_TRUE(m.ok) << m.error;
  EXPECT_EQ(m.address_of("getpid"), reinterpret_cast<uint64_t>(&getpid));
  const AddressRange alloc = allocator_text(m.functions, "libc.so.6");
  EXPECT_TRUE(alloc.contains(reinterpret_cast<uint64_t>(&malloc)));
  EXPECT_TRUE(alloc.contains(reinterpret_cast<uint64_t>(&free)));
  EXPECT_TRUE(alloc.contains(reinterpret_cast<uint64_t>(&calloc)));
  EXPECT_FALSE(alloc.contains(m.address_of("dlopen")));
  EXPECT_FALSE(alloc.contains(reinterpret_cast<uint64_t>(&getpid)));
  EXPECT_LT(alloc.hi - alloc.lo, 256u * 1024);
}

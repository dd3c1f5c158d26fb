// Whether the threads of a held process are at points where running the loader and the probe's
// setup on one of them cannot deadlock, and which thread should run it. A thread stopped inside
// malloc may hold an arena lock; one inside the dynamic loader, the loader lock; dlopen on
// another thread would then wait forever for a lock whose holder we keep stopped (the hang
// kubo/injector's README warns of). Pure: fed registers and stack words, unit-tested.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <string>
#include <vector>

#include "leakprobe/cli/target_symbols.h"

namespace leakprobe::cli {

struct ThreadView {
  pid_t tid = 0;
  user_regs_struct regs{};
  // The words at the top of its stack (from rsp up): return addresses of the calls it is in,
  // when it sits in a system call wrapper that malloc or the loader called (mmap, futex).
  std::vector<uint64_t> stack_words;
  bool in_signal_stop = false;  // held in a signal's delivery-stop: never the executor
  uint64_t stack_room = 0;      // bytes of stack below rsp it can still use
};

struct SafetyVerdict {
  bool safe = false;
  std::string why;    // when !safe: "thread 812 is inside malloc (libc.so.6)"
  int executor = -1;  // index into the views when safe
};

// How many stack words are looked at, and the stack an executor must have left for dlopen and
// the probe's setup.
constexpr size_t kStackWordsChecked = 32;
constexpr uint64_t kExecutorStackRoom = 128 * 1024;

// Safe when no thread's rip, nor any of its top stack words, falls in an unsafe range, and a
// thread with room on its stack and not in a signal's delivery-stop exists. The executor
// preferred is one blocked in a system call that will simply restart (its own work is not
// delayed by the call: it was waiting anyway), then any other system call, then the rest.
SafetyVerdict judge_threads(const std::vector<ThreadView>& threads,
                            const std::vector<AddressRange>& unsafe);

}  // namespace leakprobe::cli

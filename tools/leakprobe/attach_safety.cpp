#include "leakprobe/cli/attach_safety.h"

#include <errno.h>

#include "leakprobe/cli/syscall_restart.h"

namespace leakprobe::cli {

namespace {

const AddressRange* inside(uint64_t address, const std::vector<AddressRange>& unsafe,
                           bool on_stack) {
  for (const auto& r : unsafe) {
    if (r.contains(address) && !(on_stack && r.rip_only)) return &r;
  }
  return nullptr;
}

int rank(const ThreadView& t) {
  if (!in_system_call(t.regs)) return 2;
  const long ret = static_cast<long>(t.regs.rax);
  if (ret == -kERestartSys || ret == -kERestartNoIntr || ret == -kERestartNoHand || ret == -EINTR)
    return 0;
  // -ERESTART_RESTARTBLOCK keeps the time left in the thread's restart block, which a system
  // call interrupted inside the injected call could overwrite: only if nothing better exists.
  return 1;
}

}  // namespace

SafetyVerdict judge_threads(const std::vector<ThreadView>& threads,
                            const std::vector<AddressRange>& unsafe) {
  SafetyVerdict v;
  for (const auto& t : threads) {
    if (const AddressRange* r = inside(t.regs.rip, unsafe, false)) {
      v.why = "thread " + std::to_string(t.tid) + " is inside " + r->what;
      return v;
    }
    for (uint64_t w : t.stack_words) {
      if (const AddressRange* r = inside(w, unsafe, true)) {
        v.why = "thread " + std::to_string(t.tid) + " is in a call from " + r->what;
        return v;
      }
    }
  }
  int best = -1;
  for (size_t i = 0; i < threads.size(); ++i) {
    const auto& t = threads[i];
    if (t.in_signal_stop || t.stack_room < kExecutorStackRoom) continue;
    if (best < 0 || rank(t) < rank(threads[best])) best = static_cast<int>(i);
  }
  if (best < 0) {
    v.why = "no thread has " + std::to_string(kExecutorStackRoom / 1024) +
            " KiB of stack free to run the loader on";
    return v;
  }
  v.safe = true;
  v.executor = best;
  return v;
}

}  // namespace leakprobe::cli

// The leakprobe snapshot format, defined once.
//
// The writer (inside the profiled process, allocation-free) and the reader (heapdiff, offline)
// both take every keyword from here, so the two cannot drift apart. The grammar and the
// reasons behind it are in docs/snapshot-format.md.
//
// This header is plain constexpr data (and one snprintf name formatter): no allocation, no
// libstdc++ types, safe to include in the preloaded library.
#pragma once

#include <cstdint>
#include <cstdio>

namespace leakprobe::format {

// Bumped when a reader written for the old version would misread a new file.
inline constexpr int kVersion = 1;

// First line, gperftools/pprof legacy heap profile header. Unsampled snapshots use
// kHeaderTagExact; sampled ones use kHeaderTagSampled followed by "/<mean sample bytes>".
inline constexpr const char kHeaderPrefix[] = "heap profile: ";
inline constexpr const char kHeaderTagExact[] = "heapprofile";
inline constexpr const char kHeaderTagSampled[] = "heap_v2";

// Every line leakprobe adds starts with '#', which pprof skips. Metadata lines are
// "# leakprobe.<key>: <value>"; the keys follow.
inline constexpr const char kMetaPrefix[] = "# leakprobe.";
inline constexpr const char kKeyFormat[] = "format";   // integer, kVersion
inline constexpr const char kKeyPid[] = "pid";         // integer
inline constexpr const char kKeyParentPid[] = "ppid";  // integer (set in a forked child)
inline constexpr const char kKeyExe[] = "exe";         // path of /proc/self/exe
// integer: inode of /proc/self/ns/pid, absent where /proc is not mounted. Two processes with
// one pid in two pid namespaces (containers) writing one directory are told apart by it.
inline constexpr const char kKeyPidNamespace[] = "pid-namespace";
inline constexpr const char kKeyTime[] = "time";          // unix seconds, decimal, with fraction
inline constexpr const char kKeySequence[] = "sequence";  // 1, 2, ... per process image
inline constexpr const char kKeyTrigger[] = "trigger";    // one of the kTrigger* below
inline constexpr const char kKeySampling[] = "sampling";  // 0 = exact, else mean bytes
inline constexpr const char kKeyDepth[] = "depth";        // max frames captured per stack
inline constexpr const char kKeyStacks[] = "stacks";      // number of stack lines that follow
inline constexpr const char kKeyBuildId[] = "build-id";   // "<hex> <path>", one line per module
inline constexpr const char kKeyProbeBytes[] = "probe-bytes";      // probe's own memory
inline constexpr const char kKeyTruncated[] = "truncated-stacks";  // stacks cut at `depth`
// Stacks whose unwind ended before the outermost frame, by reason: "<reason>=<count> ..."
// (only reasons that occurred; absent when none did). Reasons: docs/snapshot-format.md.
inline constexpr const char kKeyUnwindStops[] = "unwind-stops";
// LEAKPROBE_VERIFY_UNWIND=1 only: "stacks=N same=N shorter=N longer=N different=N", every
// stack compared with libunwind's (shorter: ours is a prefix of libunwind's).
inline constexpr const char kKeyUnwindVerify[] = "unwind-verify";
// How the unwinder's caches fared: "walks=N rule_hits=N rule_misses=N frames_reused=N" (all
// but misses are added up per thread every 256 walks, so they may lag by that much per thread;
// frames_reused: frames the per-thread walk cache took from an earlier walk instead of
// deriving them from a rule).
inline constexpr const char kKeyUnwindCache[] = "unwind-cache";
// Present only when the program's malloc is not the probe's (another allocator came first in
// LD_PRELOAD, or the program links its own): the path of the file whose malloc it calls. Such
// a snapshot saw no allocations; heapdiff warns.
inline constexpr const char kKeyForeignMalloc[] = "foreign-malloc";
// The reasons of kKeyIncomplete (below); a reason and its time are separated by
// kRecordingSince.
// The stack table (LEAKPROBE_MAX_STACKS) filled up: blocks from stacks it had no room for are
// counted on one stack line without frames; frees are still recorded.
inline constexpr const char kIncompleteStackTableFull[] = "stack-table-full";
// A library opened with RTLD_DEEPBIND calls libc's malloc and free directly: blocks it frees
// stay live here, blocks it allocates are never seen. Preloaded probes only: an attached one
// rewrites such a library's calls like any other module's.
inline constexpr const char kIncompleteDeepbindFrees[] = "deepbind-frees";
// Another allocator serves the program's malloc (kKeyForeignMalloc names it): no heap at all.
inline constexpr const char kIncompleteForeignMalloc[] = "foreign-malloc";
// The probe could not map memory for its pointer map: some blocks were not recorded.
inline constexpr const char kIncompleteOutOfMemory[] = "out-of-memory";

// Whether the probe was recording when the snapshot was written, and since when:
// "<state> since <unix time>", state one of the kRecording* below, the time (seconds with a
// 6-digit fraction, like `time`) when the state began: the probe's start if it never changed.
// Over an interval in which recording was off for any part, a diff is not the program's
// growth; heapdiff says so and never passes a gate over it.
inline constexpr const char kKeyRecording[] = "recording";
inline constexpr const char kRecordingOn[] = "on";            // recording allocations
inline constexpr const char kRecordingOff[] = "off";          // recorded once, disabled since
inline constexpr const char kRecordingDormant[] = "dormant";  // never recorded yet
inline constexpr const char kRecordingSince[] = " since ";    // between state and time
// Present only once recording has been switched (enable/disable) at least once: when it was
// first switched. Absent: the state in `recording` has held since the probe started.
inline constexpr const char kKeyRecordingChanged[] = "recording-changed";
// Present only when the probe was attached to a running process (`leakprobe attach PID`)
// instead of preloaded: "since=<unix time> heap-live=<bytes> unrecorded-frees=<n>
// unrecorded-freed-bytes=<bytes>". since: when this recording was attached (seconds with a
// 6-digit fraction, like `time`). heap-live: malloc's in-use bytes then, the same figure as
// memory.before-recording's bytes (absent if recording did not start at the attach).
// unrecorded-frees/-freed-bytes: frees (and moving reallocs) since then of blocks the probe
// never saw allocated, i.e. the pre-attach heap going away (usable bytes); absent in sampled
// mode, where such frees are not looked up. Blocks from before the attach are never in the
// stack lines.
inline constexpr const char kKeyAttached[] = "attached";
inline constexpr const char kAttachedSince[] = "since";
inline constexpr const char kAttachedHeapLive[] = "heap-live";
inline constexpr const char kAttachedUnrecordedFrees[] = "unrecorded-frees";
inline constexpr const char kAttachedUnrecordedBytes[] = "unrecorded-freed-bytes";
// One line per reason the snapshot is known to miss something: "<reason> since <unix time>"
// (e.g. stack-table-full, deepbind-frees, foreign-malloc; reasons: docs/snapshot-format.md).
// heapdiff treats any of them as "this interval cannot be trusted".
inline constexpr const char kKeyIncomplete[] = "incomplete";
// Memory section (docs/snapshot-format.md, "Memory section"): where the resident memory is
// at snapshot time. Metadata lines, so pprof skips them; each value is "name=<bytes> ...".
//   memory.rss: total= heap= arena-heaps= stacks= anon= file= probe=   (statm, maps, mincore)
//   memory.recorded: blocks= requested= usable=   (live blocks the probe recorded)
//   memory.before-recording: bytes= since=        (malloc in use when recording first began)
//   memory.allocator: glibc <version> | foreign <path>
//   memory.mallinfo2: arena= ordblks= smblks= hblks= hblkhd= fsmblks= uordblks= fordblks=
//                     keepcost=
//   memory.arena: nr= system= fast= fast-chunks= rest= rest-chunks= top= subheaps=
//                 sizes=<from>-<to>:<count>:<total>,...   (one per arena, malloc_info)
//   memory.top-resident: bytes= main= measured= arenas=  (resident whole pages of top
//                        chunks, all arenas and the main arena's; tops measured of arenas)
//   memory.census-us: total= maps= heap-mincore= probe-mincore= mallinfo2= malloc-info=
//                     (what the census cost: CPU microseconds of the writing thread)
inline constexpr const char kKeyMemoryRss[] = "memory.rss";
inline constexpr const char kKeyMemoryRecorded[] = "memory.recorded";
inline constexpr const char kKeyMemoryBeforeRecording[] = "memory.before-recording";
inline constexpr const char kKeyMemoryAllocator[] = "memory.allocator";
inline constexpr const char kKeyMemoryMallinfo[] = "memory.mallinfo2";
inline constexpr const char kKeyMemoryArena[] = "memory.arena";
inline constexpr const char kKeyMemoryTopResident[] = "memory.top-resident";
inline constexpr const char kKeyMemoryCensusUs[] = "memory.census-us";

// Age of live memory (docs/snapshot-format.md, "Age of live memory"): how long ago the live
// blocks of each stack were allocated, from the allocation times the probe keeps per block.
//   "# leakprobe.age: buckets=60,3600,86400 resolution=<s> census-us=<us> max-hold-us=<us>"
//     in the header: the census was taken; bucket limits in seconds; the coarsest unit an
//     allocation time was kept in; what the census cost (CPU microseconds of the writing
//     thread) and the longest it held one shard of the table (what a malloc may have waited).
//     Absent (older probes, gperftools, a census that could not map memory): age unknown.
//   "# leakprobe.age-cutoff: <sequence> <time>" (0 to kAgeMaxCutoffs lines, oldest first):
//     earlier snapshots of this process image (its first and the most recent ones, `sequence`
//     and `time` as they wrote them) against which the stack lines count survivors.
//   "# leakprobe.age-stack: <o>:<b> <o>:<b> <o>:<b> <o>:<b> mean=<s>[ before=<o>:<b>,...]"
//     right after each heap stack line (pprof skips '#' lines): live objects:bytes younger
//     than 60 s, than 1 h, than 1 day, and older; the byte-weighted mean age in seconds (the
//     object mean when the bytes are 0); per age-cutoff, in its order, the live objects:bytes
//     allocated before that snapshot was written (the blocks it saw that are still live).
//   Counted in one pass over the live blocks apart from the stack line's counters: on a busy
//   process the buckets' sum may differ a little from the line's live figures.
inline constexpr const char kKeyAge[] = "age";
inline constexpr const char kKeyAgeCutoff[] = "age-cutoff";
inline constexpr const char kKeyAgeStack[] = "age-stack";
inline constexpr int kAgeBuckets = 4;
inline constexpr int kAgeMaxCutoffs = 4;
inline constexpr unsigned kAgeBucketLimitS[kAgeBuckets - 1] = {60, 3600, 86400};
// The buckets' names in reports (JSON keys of live_bytes_by_age, text, HTML).
inline constexpr const char* const kAgeBucketNames[kAgeBuckets] = {"under_1m", "under_1h",
                                                                   "under_1d", "over_1d"};
inline constexpr const char kAgeMean[] = "mean=";
inline constexpr const char kAgeBefore[] = "before=";
// Which bucket an age (seconds) falls in.
inline constexpr int age_bucket(uint64_t age_s) {
  int i = 0;
  while (i < kAgeBuckets - 1 && age_s >= kAgeBucketLimitS[i]) ++i;
  return i;
}

inline constexpr const char kTriggerSignal[] = "signal";
inline constexpr const char kTriggerInterval[] = "interval";
inline constexpr const char kTriggerExit[] = "exit";
inline constexpr const char kTriggerRequest[] = "request";  // `leakprobe snapshot PID`
inline constexpr const char kTriggerExec[] = "exec";        // just before execve replaces us
// LEAKPROBE_PEAK: the live heap passed the last peak snapshot's by LEAKPROBE_PEAK_GROWTH %.
inline constexpr const char kTriggerPeak[] = "peak";

// Extension sections (sockets, timers, threads by creating stack) are comment blocks so that
// pprof never sees them: "# leakprobe.section: <name>" then lines "#  <stack line>" in the same
// grammar as heap stack lines, ended by "# leakprobe.end-section: <name>".
inline constexpr const char kKeySection[] = "section";
inline constexpr const char kKeyEndSection[] = "end-section";
inline constexpr const char kSectionLinePrefix[] = "#  ";

// Resource sections: one per kind, named below, each line
// "#  <live>: 0 [<created>: 0] @ <addresses>": how many objects of that kind created from
// that stack are open (running) now, and how many it has created since the probe started.
// The byte fields are always 0. A line without addresses counts the descriptors that were
// already open when the probe loaded ("inherited").
enum class ResourceKind : unsigned char {
  kTcp,      // socket(AF_INET/AF_INET6, SOCK_STREAM), and what accept() returns from one
  kUdp,      // socket(AF_INET/AF_INET6, SOCK_DGRAM)
  kUnix,     // AF_UNIX sockets, socketpair()
  kTimerfd,  // timerfd_create()
  kEventfd,  // eventfd()
  kEpoll,    // epoll_create[1]()
  kPipe,     // either end of pipe[2]()
  kFile,     // open*/creat*/fopen: files, directories, devices
  kMemfd,    // memfd_create()
  kOtherFd,  // other sockets, signalfd, inotify, anything not recognised
  kTimer,    // POSIX timer_create() (not a descriptor)
  kThread,   // pthread_create(), live until the thread exits
  kCount
};
inline constexpr const char* const kResourceSectionNames[] = {
    "tcp",  "udp",  "unix",  "timerfd",  "eventfd", "epoll",
    "pipe", "file", "memfd", "other-fd", "timer",   "thread"};
static_assert(sizeof(kResourceSectionNames) / sizeof(kResourceSectionNames[0]) ==
              static_cast<unsigned>(ResourceKind::kCount));
inline constexpr bool is_descriptor(ResourceKind k) { return k < ResourceKind::kTimer; }

// Resource metadata. `resources`: 1 when the probe tracked them (LEAKPROBE_RESOURCES), 0
// when it did not (a reader must not read the absence of sections as "nothing leaked").
// `untracked-fds`: descriptors open at snapshot time whose creation the probe did not see
// (raw system calls, glibc-internal opens). `unseen-closes`: descriptors the probe had as
// open but found closed at snapshot time (closed by a path it cannot see), dropped then.
inline constexpr const char kKeyResources[] = "resources";
inline constexpr const char kKeyUntrackedFds[] = "untracked-fds";
inline constexpr const char kKeyUnseenCloses[] = "unseen-closes";

// Sentinel pprof and gperftools use before the /proc/self/maps copy.
inline constexpr const char kMapsSentinel[] = "MAPPED_LIBRARIES:";

// Last line of every complete leakprobe snapshot. A reader that does not find it knows the
// file was truncated (copied while being written by something other than our rename, cut by
// a full disk on another host, ...). Contains no '=' because pprof treats "a=b" lines in the
// maps section as variable assignments.
inline constexpr const char kTrailer[] = "# leakprobe.end";

// File naming: <dir>/leakprobe.<pid>.<sequence, 4+ digits>.heap, written as
// <dir>/.leakprobe.<pid>.<sequence>.heap.tmp and then published atomically.
inline constexpr const char kFilePrefix[] = "leakprobe.";
inline constexpr const char kFileSuffix[] = ".heap";

// Control socket for `leakprobe snapshot|enable|disable|list`: abstract unix stream socket
// named "\0leakprobe.<pid namespace>.<pid>" (control_socket_name). One request line, one reply
// line: "ok <text>\n" or "error <message>\n".
//   "snapshot\n" -> "ok <absolute path>" once the file is published, or "error <what failed,
//                   the path, the system's reason>; <the fix>"
//   "enable\n"   -> "ok recording <was>" (recording from now on; <was>: on|off before)
//   "disable\n"  -> "ok dormant <was>" (nothing new recorded; snapshots still work)
//   "status\n"   -> "ok <state> <mode> kept=<K>/<N> signal=<S>": state recording|dormant|failed,
//                   mode exact|sampled=N; K interval snapshots on disk of at most N
//                   (LEAKPROBE_KEEP), "kept=-" without LEAKPROBE_INTERVAL; S the snapshot
//                   signal's number while it works, else "off"
// Abstract names have no permissions: the client believes only a peer whose SO_PEERCRED pid
// is the process it asked for.
//   "trim\n"     -> "ok rss-before=<bytes> rss-after=<bytes> released=<0|1>": the probe's
//                   thread called malloc_trim(0) (`leakprobe trim PID`)
//   "detach\n"   -> "ok detached restored=<n>": an attached probe (`leakprobe attach`) put
//                   back the <n> call slots it had rewritten and stopped recording; the
//                   library stays loaded, dormant, until leakprobe_attach() is called again.
//                   A preloaded probe answers "error ..." (it has nothing to put back: use
//                   disable).
// "status" of an attached probe ends with " attach=attached" or " attach=detached".
inline constexpr const char kControlSocketPrefix[] = "leakprobe.";
inline constexpr const char kControlRequestSnapshot[] = "snapshot\n";
inline constexpr const char kControlRequestEnable[] = "enable\n";
inline constexpr const char kControlRequestDisable[] = "disable\n";
inline constexpr const char kControlRequestStatus[] = "status\n";
// "peak\n" -> "ok <absolute path>" of the newest peak snapshot (LEAKPROBE_PEAK=1), or an error
// saying there is none yet and why.
inline constexpr const char kControlRequestPeak[] = "peak\n";
inline constexpr const char kControlRequestTrim[] = "trim\n";
inline constexpr const char kControlRequestDetach[] = "detach\n";
inline constexpr const char kControlStatusAttach[] = "attach=";
inline constexpr const char kControlReplyOk[] = "ok ";
inline constexpr const char kControlReplyError[] = "error ";
inline constexpr const char kControlStatusKept[] = "kept=";
inline constexpr const char kControlStatusSignal[] = "signal=";

// The control socket's name (without the leading NUL) for `pid` as the process itself sees it
// and the inode of its pid namespace (/proc/self/ns/pid; 0 where /proc is not mounted). The
// namespace keeps apart two processes with one pid in two pid namespaces that share a network
// namespace (containers run with --net=host). Returns snprintf's count.
inline int control_socket_name(char* out, unsigned long size, unsigned long long pid_namespace,
                               long pid) {
  return snprintf(out, size, "%s%llu.%ld", kControlSocketPrefix, pid_namespace, pid);
}

}  // namespace leakprobe::format

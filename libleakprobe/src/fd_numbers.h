// Where the probe keeps its own descriptors, defined once. All sit at high numbers, out of the
// host's numbering: a host that closes every descriptor and reuses the numbers (daemons do)
// must never be handed one of ours, and its own numbering must stay as it would be without
// the probe. Under a smaller RLIMIT_NOFILE each goes the given distance below the limit.
#pragma once

namespace leakprobe::fd_numbers {

// Verification mode only (LEAKPROBE_VERIFY_UNWIND=1, tests): the libunwind it loads keeps a
// memory-validation pipe, which is made to open just below this (unwind.cpp).
inline constexpr int kUnwindPipe = 1000;
inline constexpr int kUnwindPipeBelowLimit = 16;

// The control socket (control_socket.cpp). Under a limit below kControlSocketMinLimit there
// is none: one descriptor would be a real share of what the host may open (at a limit of 4,
// `cat FILE` had none left).
inline constexpr int kControlSocket = 900;
inline constexpr int kControlSocketBelowLimit = 8;
inline constexpr int kControlSocketMinLimit = 64;

// The two snapshot-reserve memfds (fd_reserve.cpp), below the control socket.
inline constexpr int kReserve = 880;
inline constexpr int kReserveBelowLimit = 24;

}  // namespace leakprobe::fd_numbers

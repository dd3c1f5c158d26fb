#include "retry_timers.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iostream>

namespace repro {

// noinline: the heap profile must name this function as the allocation site.
__attribute__((noinline)) RetryTimer* start_retry_timer(int mid, const std::string& topic,
                                                        const std::string& payload,
                                                        int retry_after_s) {
  const int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) {
    std::cerr << "timerfd_create: " << std::strerror(errno) << '\n';
    return nullptr;
  }
  itimerspec when{};
  when.it_value.tv_sec = retry_after_s;
  if (::timerfd_settime(fd, 0, &when, nullptr) != 0) {
    std::cerr << "timerfd_settime: " << std::strerror(errno) << '\n';
    ::close(fd);
    return nullptr;
  }
  auto* timer = new RetryTimer{};  // LEAK-SITE unstopped-timers
  timer->timer_fd = fd;
  timer->mid = mid;
  timer->topic = topic;
  timer->length = std::min(payload.size(), timer->payload.size());
  std::memcpy(timer->payload.data(), payload.data(), timer->length);
  return timer;
}

void stop_retry_timer(RetryTimer* timer) {
  ::close(timer->timer_fd);
  delete timer;
}

bool retry_timer_expired(const RetryTimer& timer) {
  std::uint64_t expirations = 0;
  return ::read(timer.timer_fd, &expirations, sizeof expirations) ==
             static_cast<ssize_t>(sizeof expirations) &&
         expirations > 0;
}

InFlightTable::~InFlightTable() {
  for (auto& entry : by_mid_) stop_retry_timer(entry.second);
}

void InFlightTable::acknowledged(int mid) {
  const auto found = by_mid_.find(mid);
  if (found == by_mid_.end()) return;
  // The bug: the leaky publisher forgets the message but leaves its timer running.
  if (fixed_) stop_retry_timer(found->second);
  by_mid_.erase(found);
}

}  // namespace repro

// Retry timers for QoS 1 publishes: the publisher keeps a copy of every message it sends and
// arms a timerfd; if no PUBACK arrives before the timer fires, the copy is re-sent.
//
// The leak: on PUBACK the leaky publisher forgets the message id but never stops the timer.
// Each publish therefore leaves behind one RetryTimer record (sizeof bytes, allocated in
// start_retry_timer(), holding the message copy) and one armed timerfd. The twin (--fixed)
// stops the timer: the fd is closed and the record freed.
#pragma once

#include <array>
#include <map>
#include <string>

namespace repro {

inline constexpr std::size_t kMaxPayloadBytes = 3000;

struct RetryTimer {
  int timer_fd = -1;
  int mid = 0;
  int attempts = 0;
  std::string topic;
  std::size_t length = 0;
  std::array<char, kMaxPayloadBytes> payload;  // the copy to re-send
};

// Arms a one-shot timerfd that fires after `retry_after_s` and returns the record, or nullptr
// (reported on stderr) when the kernel refuses a timer.
RetryTimer* start_retry_timer(int mid, const std::string& topic, const std::string& payload,
                              int retry_after_s);

// Disarms and closes the timer and frees the record.
void stop_retry_timer(RetryTimer* timer);

// True when the timer has fired (non-blocking read of its timerfd).
bool retry_timer_expired(const RetryTimer& timer);

// The publisher's in-flight table: message id -> its retry timer.
class InFlightTable {
 public:
  explicit InFlightTable(bool fixed) : fixed_(fixed) {}
  ~InFlightTable();
  InFlightTable(const InFlightTable&) = delete;
  InFlightTable& operator=(const InFlightTable&) = delete;

  void add(RetryTimer* timer) { by_mid_[timer->mid] = timer; }
  void acknowledged(int mid);
  // Timers that fired, to re-send; they stay in the table until acknowledged.
  template <typename Resend>
  void for_each_expired(Resend&& resend) {
    for (auto& entry : by_mid_) {
      if (retry_timer_expired(*entry.second)) resend(*entry.second);
    }
  }
  std::size_t size() const { return by_mid_.size(); }

 private:
  bool fixed_;
  std::map<int, RetryTimer*> by_mid_;
};

}  // namespace repro

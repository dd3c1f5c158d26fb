// A watcher thread per broker link: it waits for the link's "gone" signal and then reports the
// link down. The reference guide's goroutine leak, in C++: the service starts a new watcher on
// every reconnect, and the leaky one never tells the old watcher to stop, so each reconnect
// leaves one thread blocked forever (and its LinkWatcher record, allocated in
// start_link_watcher()). The twin (--fixed) stops and joins the old watcher first.
#pragma once

#include <array>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace repro {

struct LinkWatcher {
  std::string client_id;
  std::mutex mutex;
  std::condition_variable changed;
  bool stop = false;
  std::array<char, 1024> last_status{};  // the link's last status message, for the report
  std::thread thread;
};

// Starts the watcher thread for the link of `client_id`.
LinkWatcher* start_link_watcher(const std::string& client_id);

// Tells the watcher to stop, joins it and frees it.
void stop_link_watcher(LinkWatcher* watcher);

}  // namespace repro

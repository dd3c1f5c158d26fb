#include "link_watcher.h"

namespace repro {
namespace {

void watch(LinkWatcher* w) {
  std::unique_lock<std::mutex> lock(w->mutex);
  w->changed.wait(lock, [w] { return w->stop; });
}

}  // namespace

__attribute__((noinline)) LinkWatcher* start_link_watcher(const std::string& client_id) {
  auto* w = new LinkWatcher{};  // LEAK-SITE thread-leak
  w->client_id = client_id;
  w->thread = std::thread(watch, w);
  return w;
}

void stop_link_watcher(LinkWatcher* w) {
  {
    std::lock_guard<std::mutex> lock(w->mutex);
    w->stop = true;
  }
  w->changed.notify_all();
  w->thread.join();
  delete w;
}

}  // namespace repro

// thread-leak: a device link that reconnects to the broker every cycle and starts a watcher
// thread for each new connection, never stopping the old one. See link_watcher.h.
#include <unistd.h>

#include <iostream>

#include "link_watcher.h"
#include "repro/cycle_driver.h"
#include "repro/mqtt.h"

int main(int argc, char** argv) {
  repro::CommonOptions options;
  if (auto exit_status = repro::parse_options(
          argc, argv,
          "A device link that reconnects every cycle and starts a watcher thread per connection.",
          {}, options)) {
    return *exit_status;
  }
  std::cout << "SITE-BYTES " << sizeof(repro::LinkWatcher) << std::endl;

  repro::MosquittoLibrary library;
  repro::LinkWatcher* watcher = nullptr;
  const std::string id = "link-" + std::to_string(::getpid());
  const int rc = repro::run_cycles(options, [&](long) {
    repro::ClientEvents events;
    mosquitto* client = repro::connect_client(options, id, /*clean_session=*/true,
                                              /*keepalive_s=*/60, &events);
    if (client == nullptr) return false;
    // The connection is closed properly; only its watcher is left behind.
    if (watcher != nullptr && options.fixed) repro::stop_link_watcher(watcher);
    watcher = repro::start_link_watcher(id);
    repro::close_client(client);
    return true;
  });
  if (watcher != nullptr) repro::stop_link_watcher(watcher);
  // The leaked watchers still wait: leave without running their destructors.
  std::cout.flush();
  _exit(rc);
}

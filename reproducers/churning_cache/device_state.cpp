#include "device_state.h"

#include <cstdio>
#include <cstring>

namespace repro {

// noinline: each site is its own function in the stacks heapdiff names.
__attribute__((noinline)) void DeviceCache::store(const std::string& device, long sequence,
                                                  const std::string& payload) {
  auto fresh = std::make_unique<Reading>();
  fresh->sequence = sequence;
  std::memcpy(fresh->payload, payload.data(), std::min(payload.size(), sizeof fresh->payload));
  latest_[device] = std::move(fresh);  // the previous reading is freed here
}

__attribute__((noinline)) void AuditTrail::append(const std::string& device, long sequence) {
  auto record = std::make_unique<AuditRecord>();
  record->sequence = sequence;
  std::snprintf(record->line, sizeof record->line, "reading %ld from %s stored", sequence,
                device.c_str());
  records_.push_back(std::move(record));
  if (bounded_ && records_.size() > kAuditKept) records_.pop_front();
}

}  // namespace repro

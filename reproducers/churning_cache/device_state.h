// churning-cache: a device-state service that keeps the latest reading of every device in a
// cache whose entries are replaced all the time, beside an audit trail.
//
// Every cycle a device publishes one telemetry message through the broker; the service, which
// is subscribed, replaces that device's cached reading (the old one is freed: the cache churns,
// its live blocks are always young) and appends an audit record. The leaky service never drops
// audit records, so they pile up for as long as it runs (a slow leak whose blocks grow old).
// The twin (--fixed) keeps only the most recent kAuditKept records.
//
// The point (docs/guide.md, "One snapshot is all you have"): in ONE snapshot both sites hold
// memory, but the leak's blocks are old and the cache's young, which heapdiff's mean age shows.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

namespace repro {

struct Reading {
  long sequence = 0;
  char payload[480] = {};
};

struct AuditRecord {
  long sequence = 0;
  char line[240] = {};
};

class DeviceCache {
 public:
  // Replaces the device's cached reading with a new one (allocated here: the cache's site).
  void store(const std::string& device, long sequence, const std::string& payload);
  std::size_t size() const { return latest_.size(); }

 private:
  std::unordered_map<std::string, std::unique_ptr<Reading>> latest_;
};

class AuditTrail {
 public:
  static constexpr std::size_t kAuditKept = 32;
  explicit AuditTrail(bool bounded) : bounded_(bounded) {}
  // Appends a record (allocated here: the leak's site when unbounded).
  void append(const std::string& device, long sequence);

 private:
  bool bounded_;
  std::deque<std::unique_ptr<AuditRecord>> records_;
};

}  // namespace repro

// LEAKPROBE_MAX_STACKS is tied to the memory the process may use, and that is its cgroup's
// limit when the cgroup allows less than the machine has (issue 23 item 8). The reader takes a
// root path, so these tests lay out fake /proc/self/cgroup and /sys/fs/cgroup trees.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "memory_limit.h"
#include "options.h"

namespace fs = std::filesystem;
using leakprobe::cgroup_memory_limit;
using leakprobe::process_memory_limit;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

class FakeRoot {
 public:
  FakeRoot() {
    char pattern[] = "/tmp/leakprobe-cgroup-XXXXXX";
    if (mkdtemp(pattern)) root_ = pattern;
  }
  ~FakeRoot() {
    if (!root_.empty()) fs::remove_all(root_);
  }
  void write(const std::string& rel, const std::string& text) const {
    const fs::path p = fs::path(root_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  const char* root() const { return root_.c_str(); }
  bool ok() const { return !root_.empty(); }

 private:
  std::string root_;
};

}  // namespace

TEST(CgroupMemoryLimit, V2LimitOfTheOwnCgroupAndTheTightestAncestor) {
  FakeRoot r;
  ASSERT_TRUE(r.ok());
  r.write("proc/self/cgroup", "0::/system.slice/broker.service\n");
  r.write("sys/fs/cgroup/system.slice/broker.service/memory.max", "536870912\n");
  r.write("sys/fs/cgroup/system.slice/memory.max", "max\n");
  EXPECT_EQ(cgroup_memory_limit(r.root()), 512 * kMiB);
  // A parent's limit binds its children too.
  r.write("sys/fs/cgroup/system.slice/memory.max", "268435456\n");
  EXPECT_EQ(cgroup_memory_limit(r.root()), 256 * kMiB);
}

TEST(CgroupMemoryLimit, V2MaxOrNoFileIsNoLimit) {
  FakeRoot r;
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(cgroup_memory_limit(r.root()), 0u) << "no /proc/self/cgroup";
  r.write("proc/self/cgroup", "0::/user.slice\n");
  EXPECT_EQ(cgroup_memory_limit(r.root()), 0u) << "no memory.max anywhere";
  r.write("sys/fs/cgroup/user.slice/memory.max", "max\n");
  EXPECT_EQ(cgroup_memory_limit(r.root()), 0u);
  r.write("sys/fs/cgroup/user.slice/memory.max", "garbage\n");
  EXPECT_EQ(cgroup_memory_limit(r.root()), 0u);
  r.write("sys/fs/cgroup/user.slice/memory.max", "99999999999999999999999\n");
  EXPECT_EQ(cgroup_memory_limit(r.root()), 0u) << "overflow is no number";
}

TEST(CgroupMemoryLimit, ContainerWithItsOwnCgroupNamespace) {
  // Inside a container the process's path is "/" and the container's cgroup is mounted as the
  // root of /sys/fs/cgroup, where memory.max then exists.
  FakeRoot r;
  ASSERT_TRUE(r.ok());
  r.write("proc/self/cgroup", "0::/\n");
  r.write("sys/fs/cgroup/memory.max", "1073741824\n");
  EXPECT_EQ(cgroup_memory_limit(r.root()), kGiB);
  // A path the mount does not have (host names, the container's own mount): the ancestors
  // that exist still count.
  r.write("proc/self/cgroup", "0::/docker/0123abcd\n");
  EXPECT_EQ(cgroup_memory_limit(r.root()), kGiB);
}

TEST(CgroupMemoryLimit, V1MemoryControllerAndItsUnlimitedValue) {
  FakeRoot r;
  ASSERT_TRUE(r.ok());
  r.write("proc/self/cgroup",
          "9:name=systemd:/\n8:pids:/\n4:cpuacct,memory:/process_api/7ef5\n3:cpuset:/\n0::/\n");
  r.write("sys/fs/cgroup/memory/process_api/7ef5/memory.limit_in_bytes", "9223372036854771712\n");
  r.write("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_EQ(cgroup_memory_limit(r.root()), 0u) << "v1's 'unlimited'";
  r.write("sys/fs/cgroup/memory/process_api/memory.limit_in_bytes", "2147483648\n");
  EXPECT_EQ(cgroup_memory_limit(r.root()), 2 * kGiB);
  // A hybrid system: v2 mounted too, with a tighter limit: the smaller counts.
  r.write("sys/fs/cgroup/memory.max", "1073741824\n");
  EXPECT_EQ(cgroup_memory_limit(r.root()), kGiB);
  // "memorysomething" is not the memory controller.
  FakeRoot other;
  ASSERT_TRUE(other.ok());
  other.write("proc/self/cgroup", "4:memoryx:/a\n");
  other.write("sys/fs/cgroup/memory/a/memory.limit_in_bytes", "1048576\n");
  EXPECT_EQ(cgroup_memory_limit(other.root()), 0u);
}

TEST(CgroupMemoryLimit, TheSmallerOfMachineAndCgroup) {
  FakeRoot r;
  ASSERT_TRUE(r.ok());
  r.write("proc/self/cgroup", "0::/svc\n");
  auto m = process_memory_limit(r.root(), 24 * kGiB);
  EXPECT_EQ(m.bytes, 24 * kGiB);
  EXPECT_FALSE(m.cgroup);
  r.write("sys/fs/cgroup/svc/memory.max", "536870912\n");
  m = process_memory_limit(r.root(), 24 * kGiB);
  EXPECT_EQ(m.bytes, 512 * kMiB);
  EXPECT_TRUE(m.cgroup);
  m = process_memory_limit(r.root(), 256 * kMiB);  // a limit above the machine changes nothing
  EXPECT_EQ(m.bytes, 256 * kMiB);
  EXPECT_FALSE(m.cgroup);
  m = process_memory_limit(r.root(), 0);  // physical memory unknown: the cgroup's still counts
  EXPECT_EQ(m.bytes, 512 * kMiB);
  EXPECT_TRUE(m.cgroup);
}

// The clamp on a 24 GiB machine in a 512 MiB cgroup: cut to an eighth of 512 MiB, and the
// line names the cgroup, not the machine.
TEST(CgroupMemoryLimit, MaxStacksIsCutToTheCgroupsLimit) {
  FakeRoot r;
  ASSERT_TRUE(r.ok());
  r.write("proc/self/cgroup", "0::/svc\n");
  r.write("sys/fs/cgroup/svc/memory.max", "536870912\n");
  auto s = std::make_unique<leakprobe::Settings>();
  s->tracker.max_stacks = size_t{1} << 26;
  const auto m = process_memory_limit(r.root(), 24 * kGiB);
  leakprobe::fit_max_stacks(s.get(), m.bytes, m.cgroup);
  const uint64_t per = leakprobe::stack_bytes(s->tracker.depth);
  EXPECT_EQ(s->tracker.max_stacks, 512 * kMiB / 8 / per);
  const std::string w = s->warnings;
  EXPECT_NE(w.find("more than an eighth of the 512 MiB this process's cgroup may use"),
            std::string::npos)
      << w;
}

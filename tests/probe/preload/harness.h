// Running a program under the probe and reading what it wrote: process control with
// timeouts (every child is killed on failure), snapshot listing, and a symbolizer good
// enough to say which function a frame is in (nm symbols + the snapshot's own maps).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "snapshot_reader.h"

namespace probe_test {

// A test with its own output directory, removed when the test passes and kept (and named on
// stderr) when it fails, so the snapshots of a failure can be inspected.
class TempDirTest : public ::testing::Test {
 protected:
  explicit TempDirTest(std::string tag) : tag_(std::move(tag)) {}
  void SetUp() override;
  void TearDown() override;
  std::string dir_;

 private:
  std::string tag_;
};

class Child {
 public:
  // Starts argv with the current environment plus LD_PRELOAD=<probe>,
  // LEAKPROBE_OUTPUT_DIR=<dir>, LEAKPROBE_QUIET=1, then `env` (which may override them).
  Child(const std::vector<std::string>& argv, const std::string& dir,
        const std::vector<std::string>& env = {});
  ~Child();  // kills the process group if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Next line of stdout, waiting at most timeout_s; "" on EOF/timeout.
  std::string read_line(int timeout_s);
  // Writes `line` and a newline to its stdin; false if it cannot (it exited).
  bool write_line(const std::string& line);
  // Closes stdin, collects stdout/stderr, waits (kills after timeout_s). Returns the
  // waitpid status; -1 if it had to be killed.
  int finish(int timeout_s);
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  pid_t pid_ = -1;
  int in_ = -1, outfd_ = -1, errfd_ = -1;
  std::string out_, err_, pending_;
  bool done_ = false;
};

struct RunResult {
  int status = -1;
  std::string out, err;
  bool exited_ok() const;
};
RunResult run(const std::vector<std::string>& argv, const std::string& dir,
              const std::vector<std::string>& env = {}, int timeout_s = 60);

// One request on the abstract unix socket `name` (20 s receive timeout); the whole reply, or
// "connect failed".
std::string socket_request(const std::string& name, const std::string& request);
// The control socket's name for `pid` in this pid namespace (without the leading NUL).
std::string control_socket_name(pid_t pid);
// socket_request on the probe's control socket of `pid`.
std::string control_request(pid_t pid, const std::string& request);

std::string make_temp_dir(const std::string& tag);
void remove_tree(const std::string& dir);
// Published snapshots (not temporaries) in dir, sorted by name.
std::vector<std::string> snapshot_files(const std::string& dir, const std::string& pid = "");
std::vector<std::string> all_files(const std::string& dir);
Snapshot load(const std::string& path);  // ADD_FAILURE on a parse error

struct Counts {
  int64_t live_objs = 0, live_bytes = 0;
  uint64_t alloc_objs = 0, alloc_bytes = 0;
  int lines = 0;
};

// Function names for addresses in the modules of a snapshot.
class Symbolizer {
 public:
  // Adds the symbols of an ELF file (via nm), located in memory through s's maps.
  void add_module(const std::string& path, const Snapshot& s);
  std::string name_at(uint64_t return_address) const;

 private:
  struct Sym {
    uint64_t start, end;
    std::string name;
  };
  std::vector<Sym> syms_;
};

// Sum over the stack lines whose frame `index` lies in function `fn`.
Counts site(const Snapshot& s, const Symbolizer& sym, const std::string& fn, size_t index = 0);

// Checks the invariants every complete snapshot must satisfy.
void expect_well_formed(const Snapshot& s);

}  // namespace probe_test

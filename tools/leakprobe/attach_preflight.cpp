#include "leakprobe/cli/attach_preflight.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "leakprobe/cli/mapped_file.h"

namespace leakprobe::cli {

namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

std::string basename_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string strip_deleted(const std::string& path) {
  static const std::string kDeleted = " (deleted)";
  if (path.size() > kDeleted.size() &&
      path.compare(path.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0)
    return path.substr(0, path.size() - kDeleted.size());
  return path;
}

// glibc's libc.so.6 / libc-2.31.so, musl's ld-musl-x86_64.so.1 (its libc and loader in one).
bool is_libc_name(const std::string& name) {
  return name.rfind("libc.so", 0) == 0 || name.rfind("libc-", 0) == 0 ||
         name.rfind("ld-musl-", 0) == 0 || name.rfind("libc.musl", 0) == 0;
}

// Before glibc 2.34, dlopen lived in libdl; a program that linked it has it mapped.
bool is_libdl_name(const std::string& name) {
  return name.rfind("libdl.so", 0) == 0 || name.rfind("libdl-", 0) == 0;
}

bool has_cap_sys_ptrace() {
  std::string status;
  if (!read_file("/proc/self/status", status)) return false;
  const auto at = status.find("\nCapEff:");
  if (at == std::string::npos) return false;
  const unsigned long long caps = std::strtoull(status.c_str() + at + 8, nullptr, 16);
  return (caps >> 19) & 1ULL;  // CAP_SYS_PTRACE
}

int parent_of(int pid) {
  std::string status;
  if (!read_file("/proc/" + std::to_string(pid) + "/status", status)) return 0;
  const auto at = status.find("\nPPid:");
  return at == std::string::npos ? 0 : std::atoi(status.c_str() + at + 6);
}

}  // namespace

ElfFacts inspect_elf(const std::string& path) {
  ElfFacts facts;
  MappedFile file(path);
  if (!file.error().empty()) {
    facts.error = file.error();
    return facts;
  }
  const auto* eh = file.at<Elf64_Ehdr>(0);
  if (!eh || std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
    facts.error = "not an ELF file";
    return facts;
  }
  if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB) {
    facts.error = "not a 64-bit little-endian ELF file";
    return facts;
  }
  facts.readable = true;
  if (eh->e_phentsize == sizeof(Elf64_Phdr)) {
    for (uint64_t i = 0; i < eh->e_phnum; ++i) {
      const auto* ph = file.at<Elf64_Phdr>(eh->e_phoff + i * sizeof(Elf64_Phdr));
      if (ph && ph->p_type == PT_INTERP) facts.has_interp = true;
    }
  }
  if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shnum == 0) return facts;
  auto section = [&](uint64_t i) {
    return i < eh->e_shnum ? file.at<Elf64_Shdr>(eh->e_shoff + i * sizeof(Elf64_Shdr)) : nullptr;
  };
  const Elf64_Shdr* names = section(eh->e_shstrndx);
  for (uint64_t i = 0; i < eh->e_shnum; ++i) {
    const Elf64_Shdr* sh = section(i);
    if (!sh) break;
    if (names) {
      const std::string name = file.string_at(names->sh_offset, names->sh_size, sh->sh_name);
      if (name == ".go.buildinfo" || name == ".note.go.buildid") facts.is_go = true;
    }
    if (sh->sh_type != SHT_DYNSYM && sh->sh_type != SHT_SYMTAB) continue;
    if (sh->sh_entsize != sizeof(Elf64_Sym)) continue;
    const Elf64_Shdr* strings = section(sh->sh_link);
    if (!strings || !file.in_bounds(sh->sh_offset, sh->sh_size)) continue;
    const uint64_t count = sh->sh_size / sizeof(Elf64_Sym);
    for (uint64_t k = 0; k < count; ++k) {
      const auto* sym = file.at<Elf64_Sym>(sh->sh_offset + k * sizeof(Elf64_Sym));
      if (!sym || sym->st_name == 0) continue;
      const std::string name = file.string_at(strings->sh_offset, strings->sh_size, sym->st_name);
      if (name == "runtime.main") facts.is_go = true;
      if (sh->sh_type == SHT_DYNSYM && name == "dlopen" && sym->st_shndx != SHN_UNDEF &&
          ELF64_ST_TYPE(sym->st_info) == STT_FUNC)
        facts.defines_dlopen = true;
    }
  }
  return facts;
}

StatusFields parse_status(const std::string& text) {
  StatusFields f;
  std::istringstream lines(text);
  std::string line;
  bool saw_uid = false, saw_state = false;
  while (std::getline(lines, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon);
    std::istringstream value(line.substr(colon + 1));
    if (key == "State") {
      value >> f.state;
      saw_state = static_cast<bool>(value);
    } else if (key == "Uid") {
      saw_uid = static_cast<bool>(value >> f.uid[0] >> f.uid[1] >> f.uid[2]);
    } else if (key == "TracerPid") {
      value >> f.tracer_pid;
    } else if (key == "Seccomp") {
      value >> f.seccomp;
    }
  }
  f.parsed = saw_uid && saw_state;
  return f;
}

std::vector<std::string> parse_map_paths(const std::string& text) {
  std::vector<std::string> paths;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    // address perms offset dev inode path: the path starts after five fields and the spaces
    // that pad them; it may itself contain spaces.
    size_t at = 0;
    for (int field = 0; field < 5 && at != std::string::npos; ++field) {
      at = line.find_first_not_of(' ', at);
      if (at != std::string::npos) at = line.find(' ', at);
    }
    if (at == std::string::npos) continue;
    at = line.find_first_not_of(' ', at);
    if (at == std::string::npos || line[at] != '/') continue;  // [heap], [stack], anonymous
    std::string path = line.substr(at);
    bool seen = false;
    for (const auto& p : paths) seen = seen || p == path;
    if (!seen) paths.push_back(std::move(path));
  }
  return paths;
}

bool maps_show_probe(const std::vector<std::string>& map_paths) {
  for (const auto& p : map_paths) {
    const std::string name = basename_of(strip_deleted(p));
    if (name.rfind("libleakprobe.so", 0) == 0) return true;
  }
  return false;
}

bool environ_preloads_probe(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string entry;
  while (std::getline(in, entry, '\0')) {
    if (entry.rfind("LD_PRELOAD=", 0) == 0 && entry.find("libleakprobe") != std::string::npos)
      return true;
  }
  return false;
}

ProcessView read_process_view(int pid) {
  ProcessView v;
  v.pid = pid;
  v.my_uid = ::geteuid();
  v.have_cap_sys_ptrace = has_cap_sys_ptrace();
  std::string scope;
  if (read_file("/proc/sys/kernel/yama/ptrace_scope", scope))
    v.ptrace_scope = std::atoi(scope.c_str());

  const std::string dir = "/proc/" + std::to_string(pid);
  std::string text;
  if (!read_file(dir + "/status", text)) return v;
  v.exists = true;
  v.status = parse_status(text);
  if (read_file(dir + "/stat", text)) {
    // Field 9 (flags) after the ")" that closes the command name; PF_KTHREAD = 0x00200000.
    const auto close = text.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest(text.substr(close + 1));
      std::string word;
      unsigned long flags = 0;
      for (int i = 0; i < 7 && rest >> word; ++i) {
      }
      if (rest >> flags) v.kernel_thread = (flags & 0x00200000UL) != 0;
    }
  }
  struct stat st {};
  // The kernel gives the files in /proc/PID to root when the process is not dumpable (it
  // changed user); the directory itself keeps the process's uid.
  if (::stat((dir + "/status").c_str(), &st) == 0)
    v.dumpable = st.st_uid == v.status.uid[1] || v.status.uid[1] == 0;
  for (int p = parent_of(pid), hops = 0; p > 0 && hops < 4096; p = parent_of(p), ++hops) {
    if (p == ::getpid()) {
      v.is_descendant = true;
      break;
    }
  }
  if (v.status.tracer_pid > 0 &&
      read_file("/proc/" + std::to_string(v.status.tracer_pid) + "/comm", text)) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    v.tracer_name = text;
  }
  const bool maps_opened = read_file(dir + "/maps", text);
  // Readable but empty: the process has already given back its memory on its way out.
  v.memory_gone = maps_opened && text.empty();
  if (maps_opened && !text.empty()) {
    v.maps_readable = true;
    v.map_paths = parse_map_paths(text);
  }
  v.exe = inspect_elf(dir + "/exe");
  v.probe_preloaded = maps_show_probe(v.map_paths) && environ_preloads_probe(pid);
  // The target's own files, through its root: it may live in another mount namespace.
  std::string libc, libdl;
  for (const auto& p : v.map_paths) {
    const std::string name = basename_of(strip_deleted(p));
    if (libc.empty() && is_libc_name(name)) libc = strip_deleted(p);
    if (libdl.empty() && is_libdl_name(name)) libdl = strip_deleted(p);
  }
  if (!libc.empty()) {
    v.libc_found = true;
    v.libc_path = libc;
    v.libc = inspect_elf(dir + "/root" + libc);
    if (!v.libc.defines_dlopen && !libdl.empty()) {
      ElfFacts dl = inspect_elf(dir + "/root" + libdl);
      if (dl.defines_dlopen) {
        v.libc_path = libdl;
        v.libc = dl;
      }
    }
  }
  return v;
}

Verdict judge_attach(const ProcessView& v) {
  const std::string p = "pid " + std::to_string(v.pid);
  auto no = [](std::string why) { return Verdict{false, std::move(why)}; };
  if (!v.exists) return no("no process with pid " + std::to_string(v.pid));
  if (!v.status.parsed) return no("cannot read /proc/" + std::to_string(v.pid) + "/status");
  if (v.status.state == 'Z' || v.status.state == 'X')
    return no(p + " is exiting: there is nothing left to attach to");
  if (v.memory_gone && !v.kernel_thread)
    return no(p + " is exiting: there is nothing left to attach to");
  if (v.kernel_thread)
    return no(p + " is a kernel thread: no program runs there to load the probe into");

  // Who may attach: the kernel's rules, told before it refuses us half-way.
  if (!v.have_cap_sys_ptrace) {
    for (uid_t id : v.status.uid) {
      if (id != v.my_uid)
        return no(p + " runs as uid " + std::to_string(v.status.uid[1]) + " and you are uid " +
                  std::to_string(v.my_uid) + ": attach as that user, or as root");
    }
    if (!v.dumpable)
      return no(p +
                " changed user after it started, so the kernel lets only root "
                "(CAP_SYS_PTRACE) attach to it: run leakprobe attach as root");
  }
  if (v.ptrace_scope >= 3)
    return no(
        "kernel.yama.ptrace_scope is 3: this kernel lets no process attach to another "
        "until reboot; start the program with `leakprobe run` instead");
  if (v.ptrace_scope == 2 && !v.have_cap_sys_ptrace)
    return no(
        "kernel.yama.ptrace_scope is 2: only root (CAP_SYS_PTRACE) may attach; run "
        "leakprobe attach as root");
  if (v.ptrace_scope == 1 && !v.have_cap_sys_ptrace && !v.is_descendant)
    return no("kernel.yama.ptrace_scope is 1: only a parent may attach to " + p +
              "; run leakprobe attach as root (CAP_SYS_PTRACE), or set the sysctl to 0");
  if (!v.maps_readable)
    return no("cannot read /proc/" + std::to_string(v.pid) +
              "/maps: the kernel does not let this user inspect " + p +
              ", so it would not let it attach either");

  if (maps_show_probe(v.map_paths) && v.probe_preloaded)
    return no(p + " already has the probe loaded: `leakprobe enable " + std::to_string(v.pid) +
              "` starts recording there");
  if (v.status.tracer_pid != 0)
    return no(p + " is already traced by pid " + std::to_string(v.status.tracer_pid) +
              (v.tracer_name.empty() ? "" : " (" + v.tracer_name + ")") +
              ": a process has one tracer at a time; detach that one first");
  if (v.status.seccomp != 0)
    return no(p + " runs under seccomp (" +
              (v.status.seccomp == 1 ? std::string("strict mode") : std::string("a filter")) +
              "), which may forbid or kill the mmap, open and dlopen an attach makes it do; "
              "start it with `leakprobe run` instead");
  if (v.exe.readable && v.exe.is_go)
    return no(p +
              " is a Go program: Go's own heap profiler sees it better; import "
              "net/http/pprof and read http://HOST:PORT/debug/pprof/heap (or "
              "`go tool pprof` it)");
  if (!v.exe.readable) return no("cannot read the program of " + p + ": " + v.exe.error);
  if (!v.exe.has_interp && !v.libc_found)
    return no(p +
              " is a statically linked program: there is no dynamic loader in it to load "
              "the probe; rebuild it dynamically linked and start it with `leakprobe run`");
  if (!v.libc_found) return no(p + " has no C library mapped: nothing to load the probe with");
  if (!v.libc.readable)
    return no("cannot read the C library of " + p + " (" + v.libc_path + "): " + v.libc.error);
  if (!v.libc.defines_dlopen)
    return no("the C library of " + p + " (" + v.libc_path +
              ") exports no dlopen (glibc older than 2.34, and libdl not loaded): start the "
              "program with `leakprobe run` instead");
  return Verdict{true, {}};
}

}  // namespace leakprobe::cli

/* A stand-in for libleakprobe.so with the same two entry points, for the tests of the injection
 * mechanics alone (ptrace, remote calls, registers, signals, system call restart): what
 * `leakprobe attach` does to a process must not depend on what the probe then does in it.
 * leakprobe_attach(config) checks the config the way the probe must (key=value lines, known
 * keys only), records the call in OUTPUT_DIR/stand_in.attached (one line per call), and obeys
 * two files a test may create there: `hang` (never return: the attach must time out and put
 * the process back) and `refuse` (return -EPERM). leakprobe_detach() appends to
 * stand_in.detached. Nothing happens at load time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char output_dir[4096];
static int attached;

static int exists_in_output(const char* name) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/%s", output_dir, name);
  return access(path, F_OK) == 0;
}

static void append(const char* name, const char* line) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/%s", output_dir, name);
  const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!write(fd, line, strlen(line));
  close(fd);
}

__attribute__((visibility("default"))) int leakprobe_attach(const char* config) {
  if (!config) return -EINVAL;
  if (attached) return -EALREADY;
  output_dir[0] = '\0';
  for (const char* line = config; *line;) {
    const char* end = strchr(line, '\n');
    const size_t len = end ? (size_t)(end - line) : strlen(line);
    static const char kOut[] = "LEAKPROBE_OUTPUT_DIR=";
    static const char kSample[] = "LEAKPROBE_SAMPLE_BYTES=";
    if (len > sizeof(kOut) - 1 && strncmp(line, kOut, sizeof(kOut) - 1) == 0) {
      const size_t n = len - (sizeof(kOut) - 1);
      if (n >= sizeof(output_dir)) return -ENAMETOOLONG;
      memcpy(output_dir, line + sizeof(kOut) - 1, n);
      output_dir[n] = '\0';
    } else if (!(len > sizeof(kSample) - 1 && strncmp(line, kSample, sizeof(kSample) - 1) == 0)) {
      return -EINVAL;
    }
    line += len + (end ? 1 : 0);
  }
  if (!output_dir[0]) return -EINVAL;
  if (exists_in_output("refuse")) return -EPERM;
  while (exists_in_output("hang")) usleep(10000);
  attached = 1;
  char line[64];
  snprintf(line, sizeof(line), "attach %d\n", (int)getpid());
  append("stand_in.attached", line);
  return 0;
}

__attribute__((visibility("default"))) int leakprobe_detach(void) {
  if (!attached) return -ENOENT;
  attached = 0;
  char line[64];
  snprintf(line, sizeof(line), "detach %d\n", (int)getpid());
  append("stand_in.detached", line);
  return 0;
}

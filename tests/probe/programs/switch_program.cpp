// Allocates and frees on command, so a driver can switch the probe's recording on and off
// (`enable`/`disable` on the control socket) between known allocations. Commands, one per
// line on stdin, each answered with "done <command>" on stdout:
//   a  / b   allocate 5 blocks at site_switch_a_71003 / site_switch_b_71011
//   fa / fb  free every block allocated so far at that site
// Bounded by an alarm so a broken driver never leaves it running.
#include <csignal>
#include <string>

#include "prog_util.h"

namespace {

constexpr int kMax = 64;
void* g_a[kMax];
void* g_b[kMax];
int g_na = 0, g_nb = 0;

}  // namespace

SITE void* site_switch_a_71003() { return keep(malloc(71003)); }
SITE void* site_switch_b_71011() { return keep(malloc(71011)); }

int main() {
  alarm(60);
  printf("ready %d\n", getpid());
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof(line), stdin)) {
    const std::string cmd(line, strcspn(line, "\n"));
    if (cmd == "a") {
      for (int i = 0; i < 5 && g_na < kMax; ++i) g_a[g_na++] = site_switch_a_71003();
    } else if (cmd == "b") {
      for (int i = 0; i < 5 && g_nb < kMax; ++i) g_b[g_nb++] = site_switch_b_71011();
    } else if (cmd == "fa") {
      while (g_na > 0) free(g_a[--g_na]);
    } else if (cmd == "fb") {
      while (g_nb > 0) free(g_b[--g_nb]);
    } else {
      fprintf(stderr, "switch_program: unknown command '%s'\n", cmd.c_str());
      return 2;
    }
    printf("done %s\n", cmd.c_str());
    fflush(stdout);
  }
  return 0;
}

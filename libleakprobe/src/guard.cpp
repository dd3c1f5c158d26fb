#include "guard.h"

namespace leakprobe {

__thread bool t_in_probe __attribute__((tls_model("initial-exec"))) = false;

}  // namespace leakprobe

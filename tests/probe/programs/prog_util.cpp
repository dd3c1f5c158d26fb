#include "prog_util.h"

void* volatile g_sink;

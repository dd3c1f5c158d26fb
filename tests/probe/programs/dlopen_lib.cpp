// A library loaded and unloaded at run time that allocates.
#include "prog_util.h"

SITE void* lib_alloc_50021() { return keep(malloc(50021)); }

#pragma once

#include <cstddef>

#define ATTACH_SITE extern "C" __attribute__((noinline, used))

ATTACH_SITE void* attach_leak_site(size_t n);
ATTACH_SITE void* attach_realloc_site(void* p, size_t n);
ATTACH_SITE void* attach_churn_site(size_t n);
ATTACH_SITE void attach_free(void* p);

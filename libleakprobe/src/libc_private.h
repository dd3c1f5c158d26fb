// glibc's exported but undeclared entry points that let the probe bypass its own
// interposed symbols (calling `sigaction` from inside the probe would reach our wrapper).
#pragma once

#include <csignal>

extern "C" int __sigaction(int sig, const struct sigaction* act, struct sigaction* old);

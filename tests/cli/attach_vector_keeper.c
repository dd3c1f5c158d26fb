/* A target whose one thread keeps a pattern in ymm7 across a blocking read(0) made with a raw
 * `syscall` instruction, in one asm block: nothing but the kernel, and whoever stops the thread
 * there, can change it. `leakprobe attach` runs its calls on that thread; put back, or put back
 * by the return frame after the CLI was killed, ymm7 must hold the pattern again, its upper half
 * included (which a frame restored only as x87/SSE state would reset). For each byte read it
 * prints "ymm7 ok" or "ymm7 LOST ..." (or "read N" when the read did not return 1); exits at
 * EOF. Prints "READY <pid>" first, or "NOAVX <pid>" where there is no AVX (xmm7 only then). */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  const int avx = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_AVX) && (c & bit_OSXSAVE);
  printf("%s %d\n", avx ? "READY" : "NOAVX", (int)getpid());
  fflush(stdout);
  for (;;) {
    uint64_t pattern[4] __attribute__((aligned(32))) = {0x0123456789abcdefULL, 0x1111,
                                                        0xfedcba9876543210ULL, 0x2222};
    uint64_t after[4] __attribute__((aligned(32))) = {0, 0, 0, 0};
    char byte = 0;
    long n;
    if (avx) {
      __asm__ volatile(
          "vmovdqu %2, %%ymm7\n"
          "syscall\n"
          "vmovdqu %%ymm7, %1\n"
          : "=a"(n), "=m"(after)
          : "m"(pattern), "a"(0L), "D"(0L), "S"(&byte), "d"(1L)
          : "rcx", "r11", "memory", "xmm7");
    } else {
      __asm__ volatile(
          "movdqu %2, %%xmm7\n"
          "syscall\n"
          "movdqu %%xmm7, %1\n"
          : "=a"(n), "=m"(after)
          : "m"(pattern), "a"(0L), "D"(0L), "S"(&byte), "d"(1L)
          : "rcx", "r11", "memory", "xmm7");
      pattern[2] = pattern[3] = 0;
    }
    if (n == 0) return 0;
    if (n != 1) {
      printf("read %ld\n", n);
    } else if (memcmp(pattern, after, sizeof(after)) == 0) {
      printf("ymm7 ok\n");
    } else {
      printf("ymm7 LOST %016llx %016llx %016llx %016llx\n", (unsigned long long)after[0],
             (unsigned long long)after[1], (unsigned long long)after[2],
             (unsigned long long)after[3]);
    }
    fflush(stdout);
  }
}

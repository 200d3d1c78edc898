/* GEMM instantiations and the threading helpers. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ssmc_native.h"

#if defined(__AVX512F__)
#define VBYTES 64
#elif defined(__AVX__)
#define VBYTES 32
#else
#define VBYTES 16
#endif

int nat_threads(void) {
  static int n = 0;
  if (!n) {
    const char *e = getenv("SSMC_THREADS");
    n = e ? atoi(e) : 2;
    if (n < 1) n = 1;
    if (n > 64) n = 64;
  }
  return n;
}

struct job {
  void (*fn)(void *, int, int);
  void *ctx;
  int t, nt;
};

static void *trampoline(void *p) {
  struct job *j = p;
  j->fn(j->ctx, j->t, j->nt);
  return NULL;
}

void nat_parallel(int nt, void (*fn)(void *, int, int), void *ctx) {
  if (nt <= 1) {
    fn(ctx, 0, 1);
    return;
  }
  pthread_t th[64];
  struct job jobs[64];
  for (int t = 1; t < nt; t++) {
    jobs[t] = (struct job){fn, ctx, t, nt};
    if (pthread_create(&th[t], NULL, trampoline, &jobs[t]) != 0) nat_die(2, "pthread_create failed");
  }
  fn(ctx, 0, nt);
  for (int t = 1; t < nt; t++) pthread_join(th[t], NULL);
}

void nat_split(long n, int t, int nt, long align, long *lo, long *hi) {
  long units = (n + align - 1) / align;
  long a = units * t / nt, b = units * (t + 1) / nt;
  *lo = a * align < n ? a * align : n;
  *hi = b * align < n ? b * align : n;
}

void *nat_alloc(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) nat_die(2, "out of memory (%zu bytes)", bytes);
  return p;
}

void nat_die(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(code);
}

#define T double
#define V vd
typedef double vd __attribute__((vector_size(VBYTES)));
#define VL (VBYTES / 8)
#define MR (VBYTES == 64 ? 8 : 4)
#define NR (2 * VL)
#define MC 96
#define KC 256
#define NC 1024
#define FN(x) d##x
#include "gemm_impl.inc"
#undef T
#undef V
#undef VL
#undef MR
#undef NR
#undef MC
#undef KC
#undef NC
#undef FN

#define T float
#define V vf
typedef float vf __attribute__((vector_size(VBYTES)));
#define VL (VBYTES / 4)
#define MR (VBYTES == 64 ? 8 : 4)
#define NR (2 * VL)
#define MC 96
#define KC 384
#define NC 1024
#define FN(x) s##x
#include "gemm_impl.inc"

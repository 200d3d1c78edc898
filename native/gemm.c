/* GEMM instantiations and the threading helpers. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* Every allocation of a command is recorded so that the persistent helper (`serve`) frees
 * what a command left behind (one-shot commands relied on exit). Worker threads allocate
 * too, hence the lock. */
static pthread_mutex_t arena_mu = PTHREAD_MUTEX_INITIALIZER;
static void **arena;
static size_t arena_n, arena_cap;

void *nat_alloc(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) nat_die(2, "out of memory (%zu bytes)", bytes);
  pthread_mutex_lock(&arena_mu);
  if (arena_n == arena_cap) {
    arena_cap = arena_cap ? arena_cap * 2 : 256;
    arena = realloc(arena, sizeof(void *) * arena_cap);
    if (!arena) nat_die(2, "out of memory");
  }
  arena[arena_n++] = p;
  pthread_mutex_unlock(&arena_mu);
  return p;
}

void *nat_calloc(size_t n, size_t size) {
  size_t bytes = n * size;
  void *p = nat_alloc(bytes);
  memset(p, 0, bytes);
  return p;
}

void nat_free(void *p) {
  if (!p) return;
  pthread_mutex_lock(&arena_mu);
  for (size_t i = arena_n; i-- > 0;)
    if (arena[i] == p) {
      arena[i] = arena[--arena_n];
      break;
    }
  pthread_mutex_unlock(&arena_mu);
  free(p);
}

void nat_arena_reset(void) {
  pthread_mutex_lock(&arena_mu);
  for (size_t i = 0; i < arena_n; i++) free(arena[i]);
  arena_n = 0;
  pthread_mutex_unlock(&arena_mu);
}

void nat_die(int code, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (nat_reply_fd >= 0) {
    /* serving: the reply line carries the message; exit at once (other threads may run) */
    for (char *c = msg; *c; c++)
      if (*c == '\n') *c = ' ';
    dprintf(nat_reply_fd, "err %d %s\n", code, msg);
    _exit(code);
  }
  fprintf(stderr, "%s\n", msg);
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

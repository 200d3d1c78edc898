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

/* A pool of worker threads started on first use and kept for the process (the persistent
 * helper makes hundreds of thousands of parallel calls; a pthread_create and join per
 * call cost ~25 µs of system time each). Workers sleep on a condition variable between
 * calls: no spinning on a shared machine. */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_go = PTHREAD_COND_INITIALIZER, pool_done = PTHREAD_COND_INITIALIZER;
static int pool_size; /* workers started (thread ids 1..pool_size) */
static unsigned long pool_gen;
static int pool_pending;
static struct {
  void (*fn)(void *, int, int);
  void *ctx;
  int nt;
} pool_job;
static __thread int in_worker;

static void *pool_worker(void *p) {
  int t = (int)(long)p;
  unsigned long seen = 0;
  in_worker = 1;
  for (;;) {
    pthread_mutex_lock(&pool_mu);
    while (pool_gen == seen) pthread_cond_wait(&pool_go, &pool_mu);
    seen = pool_gen;
    void (*fn)(void *, int, int) = pool_job.fn;
    void *ctx = pool_job.ctx;
    int nt = pool_job.nt;
    pthread_mutex_unlock(&pool_mu);
    if (t < nt) fn(ctx, t, nt);
    pthread_mutex_lock(&pool_mu);
    if (--pool_pending == 0) pthread_cond_signal(&pool_done);
    pthread_mutex_unlock(&pool_mu);
  }
  return NULL;
}

void nat_parallel(int nt, void (*fn)(void *, int, int), void *ctx) {
  /* a call from inside a parallel region runs on the calling thread */
  if (nt <= 1 || in_worker) {
    for (int t = 0; t < (nt < 1 ? 1 : nt); t++) fn(ctx, t, nt < 1 ? 1 : nt);
    return;
  }
  if (nt > 64) nt = 64;
  pthread_mutex_lock(&pool_mu);
  while (pool_size < nt - 1) {
    pthread_t th;
    if (pthread_create(&th, NULL, pool_worker, (void *)(long)(pool_size + 1)) != 0) nat_die(2, "pthread_create failed");
    pthread_detach(th);
    pool_size++;
  }
  pool_job.fn = fn;
  pool_job.ctx = ctx;
  pool_job.nt = nt;
  pool_pending = pool_size;
  pool_gen++;
  pthread_cond_broadcast(&pool_go);
  pthread_mutex_unlock(&pool_mu);
  in_worker = 1;
  fn(ctx, 0, nt);
  in_worker = 0;
  pthread_mutex_lock(&pool_mu);
  while (pool_pending > 0) pthread_cond_wait(&pool_done, &pool_mu);
  pthread_mutex_unlock(&pool_mu);
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

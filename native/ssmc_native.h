/* ssmc native helper: dense f64/f32 linear algebra for the sparsify-cn4 pass (H = XᵀX,
 * Cholesky factors, the OBS sweep, damage tables, refit) and a small graph executor for
 * calibration windows. Driven from Node (src/native/): arrays in files of a private folder,
 * commands one line each over a pipe to one persistent process (`serve`); no FFI.
 * Matrices are row-major; every function documents its strides. */
#ifndef SSMC_NATIVE_H
#define SSMC_NATIVE_H
#include <stddef.h>
#include <stdint.h>

/* Number of worker threads (SSMC_THREADS, default 2, at most 64). */
int nat_threads(void);
/* Runs fn(ctx, t, nt) for t = 0..nt-1 on nt threads (nt <= nat_threads()). */
void nat_parallel(int nt, void (*fn)(void *ctx, int t, int nt), void *ctx);
/* Rows [lo, hi) of n for thread t of nt, in units of `align`. */
void nat_split(long n, int t, int nt, long align, long *lo, long *hi);

/* C[i*ldc+j] += alpha * sum_k A(i,k) B(k,j), A(i,k) = A[i*rsa + k*csa], B(k,j) = B[k*rsb + j*csb].
 * Single thread; the _mt forms split the larger of M, N over nat_threads(). */
void dgemm(long M, long N, long K, double alpha, const double *A, long rsa, long csa, const double *B, long rsb, long csb, double *C, long ldc);
void dgemm_mt(long M, long N, long K, double alpha, const double *A, long rsa, long csa, const double *B, long rsb, long csb, double *C, long ldc);
void sgemm(long M, long N, long K, float alpha, const float *A, long rsa, long csa, const float *B, long rsb, long csb, float *C, long ldc);
void sgemm_mt(long M, long N, long K, float alpha, const float *A, long rsa, long csa, const float *B, long rsb, long csb, float *C, long ldc);

/* H[upper] += XᵀX for T×K f64 rows X (call gram_finish once: copies upper onto lower). */
void gram_add(double *H, long K, const double *X, long T);
void gram_finish(double *H, long K);

/* In-place lower Cholesky of an SPD K×K matrix (strict upper zeroed); 0 when not SPD. */
int chol_lower(double *A, long K);
/* Inverse of a lower-triangular L into M (lower, strict upper zero). */
void tri_lower_inverse(const double *L, double *M, long K);
/* U upper with UᵀU = H⁻¹ (src/passes/sparsity/linalg.ts inverseCholeskyUpper); 0 when not SPD. */
int inverse_cholesky_upper(const double *H, double *U, long K);
/* The same, also giving the upper R with H = RRᵀ (U = R⁻¹) when R is not NULL. */
int inverse_cholesky_upper_r(const double *H, double *U, double *R, long K);

/* Allocations are recorded per command: nat_arena_reset frees what a command left. */
void *nat_alloc(size_t bytes);
void *nat_calloc(size_t n, size_t size);
void nat_free(void *p);
void nat_arena_reset(void);
/* Serving: the reply pipe (nat_die reports there and exits); -1 for one-shot commands. */
extern int nat_reply_fd;
void nat_die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

/* commands */
int cmd_table(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_damage(int argc, char **argv);
int cmd_cross(int argc, char **argv);
int cmd_refit(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* key=value arguments */
const char *arg_str(int argc, char **argv, const char *key);
long arg_long(int argc, char **argv, const char *key);
double arg_double(int argc, char **argv, const char *key);
void *read_file(const char *path, size_t bytes);
/* Read-only input arrays (native/store.c): *.keep files stay mapped until nat_drop. */
const void *nat_map(const char *path, size_t *bytes);
const void *nat_input(const char *path, size_t bytes);
void nat_unmap_transient(void);
void nat_drop(const char *path);
void write_file(const char *path, const void *data, size_t bytes);
#endif

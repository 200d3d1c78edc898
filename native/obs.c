/* The pruning numerics of src/passes/sparsity (masks.ts, obs.ts, damage.ts, prune.ts,
 * refit.ts) on whole matrices: same definitions, with the row-by-row work batched into
 * GEMMs (the lazy OBS update of all rows at once, damages as (D·H)∘D row sums). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ssmc_native.h"

static double prof[8];
static double tnow(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}
static void prof_print(void) {
  static const char *names[8] = {"prepare", "sweep", "damage", "score", "io", "", "", ""};
  if (!getenv("SSMC_NATIVE_PROFILE")) return;
  for (int i = 0; i < 8; i++)
    if (prof[i] > 0) fprintf(stderr, "profile %s %.1f ms\n", names[i], prof[i]);
}

/* masks.ts groupMask: bit j set = weight j pruned; the n lowest scores, ties to the lower index. */
static int group_mask(int n, double s0, double s1, double s2, double s3) {
  if (n <= 0) return 0;
  if (n >= 4) return 15;
  int r0 = (s1 < s0) + (s2 < s0) + (s3 < s0);
  int r1 = (s0 <= s1) + (s2 < s1) + (s3 < s1);
  int r2 = (s0 <= s2) + (s1 <= s2) + (s3 < s2);
  int r3 = (s0 <= s3) + (s1 <= s3) + (s2 <= s3);
  return (r0 < n ? 1 : 0) | (r1 < n ? 2 : 0) | (r2 < n ? 4 : 0) | (r3 < n ? 8 : 0);
}

/* masks.ts pruneByScore (scale NULL: magnitude). */
static void prune_by_score(double *W, long rows, long K, const uint8_t *n, const double *scale) {
  for (long r = 0; r < rows; r++) {
    int nr = n[r];
    if (nr == 0) continue;
    double *w = W + r * K;
    if (nr == 4) {
      memset(w, 0, sizeof(double) * K);
      continue;
    }
    for (long g = 0; g < K; g += 4) {
      double s[4];
      for (int j = 0; j < 4; j++) s[j] = fabs(w[g + j]) * (scale ? scale[g + j] : 1.0);
      int m = group_mask(nr, s[0], s[1], s[2], s[3]);
      for (int j = 0; j < 4; j++)
        if (m & (1 << j)) w[g + j] = 0;
    }
  }
}

#define DROWS 256

typedef struct {
  long K;
  double *U, *R;
  uint8_t *dead;
  double lambda;
} prepared;

/* rowDamage(a, b) on the undamped H from the damped factor H_d = RRᵀ: (a-b)H(a-b)ᵀ =
 * ‖(a-b)R‖² - λ·Σ_live (a-b)² - Σ_dead (a-b)², and (a-b)R is a triangular product (half
 * the work of (a-b)·H). Equal to row_damage up to rounding. */
static void row_damage_r(const double *a, const double *b, long rows, long K, const prepared *hp, double *out) {
  double t0 = tnow();
  double *D = nat_alloc(sizeof(double) * DROWS * K);
  double *E = nat_alloc(sizeof(double) * DROWS * K);
  for (long r0 = 0; r0 < rows; r0 += DROWS) {
    long rb = rows - r0 < DROWS ? rows - r0 : DROWS;
    double sub[DROWS];
    int nz[DROWS];
    for (long r = 0; r < rb; r++) {
      double live = 0, dead = 0;
      nz[r] = 0;
      for (long j = 0; j < K; j++) {
        double d = a[(r0 + r) * K + j] - (b ? b[(r0 + r) * K + j] : 0.0);
        D[r * K + j] = d;
        if (d != 0) nz[r] = 1;
        if (hp->dead[j]) dead += d * d;
        else live += d * d;
      }
      sub[r] = hp->lambda * live + dead;
    }
    memset(E, 0, sizeof(double) * rb * K);
    /* E[:, J] = D[:, 0:jend] · R[0:jend, J] for column blocks J (R upper). */
    for (long j0 = 0; j0 < K; j0 += 128) {
      long jb = K - j0 < 128 ? K - j0 : 128;
      dgemm_mt(rb, jb, j0 + jb, 1.0, D, K, 1, hp->R + j0, K, 1, E + j0, K);
    }
    for (long r = 0; r < rb; r++) {
      double s = 0;
      for (long j = 0; j < K; j++) s += E[r * K + j] * E[r * K + j];
      s -= sub[r];
      out[r0 + r] = nz[r] && s > 0 ? s : 0;
    }
  }
  nat_free(D);
  nat_free(E);
  prof[2] += tnow() - t0;
}

static prepared prepare_hessian_u(const double *H, long K, double damp, int with_u);

/* obs.ts prepareHessian. Exit 3 (the pass's E_PASS) when the damped H is not SPD. */
static prepared prepare_hessian(const double *H, long K, double damp) {
  return prepare_hessian_u(H, K, damp, 1);
}

/* with_u = 0: only R (for damages), no inverse. */
static prepared prepare_hessian_u(const double *H, long K, double damp, int with_u) {
  double *Hd = nat_alloc(sizeof(double) * K * K);
  memcpy(Hd, H, sizeof(double) * K * K);
  uint8_t *dead = nat_calloc(K, 1);
  double sum = 0;
  long live = 0;
  for (long i = 0; i < K; i++) {
    double d = H[i * K + i];
    if (d > 0) {
      sum += d;
      live++;
    } else dead[i] = 1;
  }
  double mean = live ? sum / live : 1;
  double lambda = damp * mean;
  for (long i = 0; i < K; i++) {
    if (dead[i]) {
      for (long j = 0; j < K; j++) Hd[i * K + j] = Hd[j * K + i] = 0;
      Hd[i * K + i] = 1;
    } else Hd[i * K + i] += lambda;
  }
  double *R = nat_alloc(sizeof(double) * K * K);
  double *U = NULL;
  if (with_u) {
    U = nat_alloc(sizeof(double) * K * K);
    if (!inverse_cholesky_upper_r(Hd, U, R, K)) nat_die(3, "not positive definite");
  } else {
    /* H_d = RRᵀ with R upper: R = P·chol(P·H_d·P)·P */
    for (long i = 0; i < K; i++)
      for (long j = 0; j < K; j++) R[i * K + j] = Hd[(K - 1 - i) * K + K - 1 - j];
    if (!chol_lower(R, K)) nat_die(3, "not positive definite");
    double *A = R;
    R = nat_alloc(sizeof(double) * K * K);
    for (long i = 0; i < K; i++)
      for (long j = 0; j < K; j++) R[i * K + j] = A[(K - 1 - i) * K + K - 1 - j];
    nat_free(A);
  }
  nat_free(Hd);
  return (prepared){K, U, R, dead, lambda};
}

struct sweep_ctx {
  double *W, *err, *esq;
  long rows, K, i1, i2, B;
  const uint8_t *n;
  const prepared *hp;
};

static inline double score(const double *w, const prepared *hp, long j) {
  if (hp->dead[j]) return 0;
  double d = hp->U[j * hp->K + j];
  return (w[j] * w[j]) / (d * d);
}

/* The in-block part of obs.ts obsSweep for this thread's rows. */
static void sweep_block(void *p, int t, int nt) {
  struct sweep_ctx *c = p;
  long lo, hi, K = c->K;
  const double *U = c->hp->U;
  nat_split(c->rows, t, nt, 1, &lo, &hi);
  for (long r = lo; r < hi; r++) {
    double *w = c->W + r * K;
    double *err = c->err + r * c->B;
    int nr = c->n[r];
    memset(err, 0, sizeof(double) * c->B);
    if (nr == 0) continue;
    int mask = 0;
    for (long i = c->i1; i < c->i2; i++) {
      long cc = i - c->i1;
      if (cc % 4 == 0)
        mask = nr == 4 ? 15 : group_mask(nr, score(w, c->hp, i), score(w, c->hp, i + 1), score(w, c->hp, i + 2), score(w, c->hp, i + 3));
      if (!(mask & (1 << (cc % 4)))) continue;
      const double *ui = U + i * K;
      double e = w[i] / ui[i];
      err[cc] = e;
      c->esq[r] += e * e;
      for (long j = i + 1; j < c->i2; j++) w[j] -= e * ui[j];
      w[i] = 0;
    }
  }
}

/* obs.ts obsSweep with the lazy update W[:, i2:] -= Err·U[i1:i2, i2:] for all rows at once.
 * esq[r] = Σ err² of row r: every update is err_i·U[i, i:], so the total change is
 * δ = err·U and, as UᵀU = H_d⁻¹, δ·H_d·δᵀ = ‖err‖² (H_d: the damped Hessian). */
static void obs_sweep(double *W, long rows, const uint8_t *n, const prepared *hp, long blocksize, double *esq) {
  long K = hp->K;
  long B = ((blocksize + 3) / 4) * 4;
  if (B < 4) B = 4;
  double *err = nat_alloc(sizeof(double) * rows * B);
  for (long i1 = 0; i1 < K; i1 += B) {
    long i2 = K < i1 + B ? K : i1 + B;
    struct sweep_ctx c = {W, err, esq, rows, K, i1, i2, B, n, hp};
    nat_parallel(rows >= 64 ? nat_threads() : 1, sweep_block, &c);
    if (i2 < K) dgemm_mt(rows, K - i2, i2 - i1, -1.0, err, B, 1, hp->U + i1 * K + i2, K, 1, W + i2, K);
  }
  nat_free(err);
}

/* prune.ts matrixPruner('obs').prune: the sweep, then per row the best of obs, magnitude,
 * Wanda by the measured damage. Returns W (new) and fills damage. */
static double *prune_obs(const double *W0, long rows, long K, const uint8_t *n, const prepared *hp, long blocksize, const double *norms, double *damage) {
  double *W = nat_alloc(sizeof(double) * rows * K);
  memcpy(W, W0, sizeof(double) * rows * K);
  memset(damage, 0, sizeof(double) * rows);
  double t0 = tnow();
  obs_sweep(W, rows, n, hp, blocksize, damage);
  prof[1] += tnow() - t0;
  /* rowDamage(W0, W) on the undamped H = H_d - λ·I(live) - I(dead), from δH_dδᵀ = ‖err‖²:
   * no K² work per row (the identity is exact; the values agree up to rounding). */
  for (long r = 0; r < rows; r++) {
    double live = 0, dead = 0;
    int nz = 0;
    for (long j = 0; j < K; j++) {
      double d = W0[r * K + j] - W[r * K + j];
      if (d != 0) nz = 1;
      if (hp->dead[j]) dead += d * d;
      else live += d * d;
    }
    double v = damage[r] - hp->lambda * live - dead;
    damage[r] = nz && v > 0 ? v : 0;
  }

  double *Wp = nat_alloc(sizeof(double) * rows * K);
  double *d = nat_alloc(sizeof(double) * rows);
  for (int s = 0; s < 2; s++) {
    memcpy(Wp, W0, sizeof(double) * rows * K);
    double t1 = tnow();
    prune_by_score(Wp, rows, K, n, s ? norms : NULL);
    prof[3] += tnow() - t1;
    row_damage_r(W0, Wp, rows, K, hp, d);
    for (long r = 0; r < rows; r++)
      if (d[r] < damage[r]) {
        damage[r] = d[r];
        memcpy(W + r * K, Wp + r * K, sizeof(double) * K);
      }
  }
  nat_free(Wp);
  nat_free(d);
  return W;
}

static char *path_of(const char *prefix, const char *suffix) {
  size_t n = strlen(prefix) + strlen(suffix) + 1;
  char *p = nat_alloc(n);
  snprintf(p, n, "%s%s", prefix, suffix);
  return p;
}

/* table rows= K= damp= blocksize= W= H= norms= out=PREFIX
 * → PREFIX.table (rows×5 f64), PREFIX.r1 .r2 .r3 (rows×K f64): prune.ts measureTable. */
int cmd_table(int argc, char **argv) {
  memset(prof, 0, sizeof prof); /* per command in the persistent helper */
  long rows = arg_long(argc, argv, "rows"), K = arg_long(argc, argv, "K");
  const double *W0 = nat_input(arg_str(argc, argv, "W"), sizeof(double) * rows * K);
  const double *H = nat_input(arg_str(argc, argv, "H"), sizeof(double) * K * K);
  const double *norms = nat_input(arg_str(argc, argv, "norms"), sizeof(double) * K);
  const char *out = arg_str(argc, argv, "out");
  double t0 = tnow();
  prepared hp = prepare_hessian(H, K, arg_double(argc, argv, "damp"));
  prof[0] += tnow() - t0;
  long bs = arg_long(argc, argv, "blocksize");
  double *table = nat_calloc(rows * 5, sizeof(double));
  double *dmg = nat_alloc(sizeof(double) * rows);
  uint8_t *n = nat_alloc(rows);
  for (int k = 1; k <= 3; k++) {
    memset(n, k, rows);
    double *W = prune_obs(W0, rows, K, n, &hp, bs, norms, dmg);
    for (long r = 0; r < rows; r++) table[r * 5 + k] = dmg[r];
    char sfx[4] = {'.', 'r', (char)('0' + k), 0};
    char *p = path_of(out, sfx);
    write_file(p, W, sizeof(double) * rows * K);
    nat_free(p);
    nat_free(W);
  }
  row_damage_r(W0, NULL, rows, K, &hp, dmg);
  for (long r = 0; r < rows; r++) table[r * 5 + 4] = dmg[r];
  char *p = path_of(out, ".table");
  write_file(p, table, sizeof(double) * rows * 5);
  prof_print();
  return 0;
}

/* prune rows= K= damp= blocksize= W= H= norms= n= out=PREFIX → PREFIX.W, PREFIX.damage */
int cmd_prune(int argc, char **argv) {
  long rows = arg_long(argc, argv, "rows"), K = arg_long(argc, argv, "K");
  const double *W0 = nat_input(arg_str(argc, argv, "W"), sizeof(double) * rows * K);
  const double *H = nat_input(arg_str(argc, argv, "H"), sizeof(double) * K * K);
  const double *norms = nat_input(arg_str(argc, argv, "norms"), sizeof(double) * K);
  const uint8_t *n = nat_input(arg_str(argc, argv, "n"), rows);
  const char *out = arg_str(argc, argv, "out");
  prepared hp = prepare_hessian(H, K, arg_double(argc, argv, "damp"));
  double *dmg = nat_alloc(sizeof(double) * rows);
  double *W = prune_obs(W0, rows, K, n, &hp, arg_long(argc, argv, "blocksize"), norms, dmg);
  char *p = path_of(out, ".W");
  write_file(p, W, sizeof(double) * rows * K);
  nat_free(p);
  p = path_of(out, ".damage");
  write_file(p, dmg, sizeof(double) * rows);
  return 0;
}

/* damage rows= K= W0= W= H= out= → 3 f64: Σ uncompensated, Σ compensated, Σ energy (report.ts),
 * through the factor of H + 0.001·mean(diag H) (the damping cancels; half the work). */
int cmd_damage(int argc, char **argv) {
  long rows = arg_long(argc, argv, "rows"), K = arg_long(argc, argv, "K");
  const double *W0 = nat_input(arg_str(argc, argv, "W0"), sizeof(double) * rows * K);
  const double *W = nat_input(arg_str(argc, argv, "W"), sizeof(double) * rows * K);
  const double *H = nat_input(arg_str(argc, argv, "H"), sizeof(double) * K * K);
  prepared hp = prepare_hessian_u(H, K, 0.001, 0);
  double *d = nat_alloc(sizeof(double) * rows);
  double sums[3] = {0, 0, 0};
  double *masked = nat_alloc(sizeof(double) * rows * K);
  for (long i = 0; i < rows * K; i++) masked[i] = W[i] == 0 ? 0 : W0[i];
  row_damage_r(W0, masked, rows, K, &hp, d);
  for (long r = 0; r < rows; r++) sums[0] += d[r];
  row_damage_r(W0, W, rows, K, &hp, d);
  for (long r = 0; r < rows; r++) sums[1] += d[r];
  row_damage_r(W0, NULL, rows, K, &hp, d);
  for (long r = 0; r < rows; r++) sums[2] += d[r];
  write_file(arg_str(argc, argv, "out"), sums, sizeof sums);
  return 0;
}

/* Token rows (f32, T×K) to f64 in chunks, accumulated into H (and C = AᵀB when B given). */
#define XCHUNK 512
/* cross T= K= Xp= Xd= out=PREFIX → PREFIX.H (K×K f64: XpᵀXp), PREFIX.C (K×K f64: XpᵀXd). */
int cmd_cross(int argc, char **argv) {
  long T = arg_long(argc, argv, "T"), K = arg_long(argc, argv, "K");
  const float *Xp = nat_input(arg_str(argc, argv, "Xp"), sizeof(float) * T * K);
  const float *Xd = nat_input(arg_str(argc, argv, "Xd"), sizeof(float) * T * K);
  const char *out = arg_str(argc, argv, "out");
  double *H = nat_calloc(K * K, sizeof(double));
  double *C = nat_calloc(K * K, sizeof(double));
  double *A = nat_alloc(sizeof(double) * XCHUNK * K);
  double *B = nat_alloc(sizeof(double) * XCHUNK * K);
  for (long t0 = 0; t0 < T; t0 += XCHUNK) {
    long tb = T - t0 < XCHUNK ? T - t0 : XCHUNK;
    for (long i = 0; i < tb * K; i++) {
      A[i] = Xp[t0 * K + i];
      B[i] = Xd[t0 * K + i];
    }
    gram_add(H, K, A, tb);
    dgemm_mt(K, K, tb, 1.0, A, 1, K, B, K, 1, C, K);
  }
  gram_finish(H, K);
  char *p = path_of(out, ".H");
  write_file(p, H, sizeof(double) * K * K);
  nat_free(p);
  p = path_of(out, ".C");
  write_file(p, C, sizeof(double) * K * K);
  return 0;
}

/* refit rows= K= damp= W= H= C= out= → W* (rows×K f64): refit.ts refitToDense, with
 * (H+λI)⁻¹ applied as L⁻ᵀL⁻¹ (two GEMMs) instead of per-row substitutions. */
int cmd_refit(int argc, char **argv) {
  long rows = arg_long(argc, argv, "rows"), K = arg_long(argc, argv, "K");
  double damp = arg_double(argc, argv, "damp");
  const double *W = nat_input(arg_str(argc, argv, "W"), sizeof(double) * rows * K);
  double *L = nat_alloc(sizeof(double) * K * K);
  memcpy(L, nat_input(arg_str(argc, argv, "H"), sizeof(double) * K * K), sizeof(double) * K * K);
  const double *C = nat_input(arg_str(argc, argv, "C"), sizeof(double) * K * K);
  const char *out = arg_str(argc, argv, "out");
  double sum = 0;
  long live = 0;
  for (long i = 0; i < K; i++)
    if (L[i * K + i] > 0) {
      sum += L[i * K + i];
      live++;
    }
  if (!live) {
    write_file(out, W, sizeof(double) * rows * K);
    return 0;
  }
  double lambda = (damp > 1e-6 ? damp : 1e-6) * (sum / live);
  for (long i = 0; i < K; i++) L[i * K + i] += lambda;
  if (!chol_lower(L, K)) nat_die(3, "not positive definite");
  double *Li = nat_alloc(sizeof(double) * K * K);
  tri_lower_inverse(L, Li, K);
  /* M = W Cᵀ + λW */
  double *M = nat_alloc(sizeof(double) * rows * K);
  for (long i = 0; i < rows * K; i++) M[i] = lambda * W[i];
  dgemm_mt(rows, K, K, 1.0, W, K, 1, C, 1, K, M, K);
  /* Y = M L⁻ᵀ, X = Y L⁻¹ */
  double *Y = nat_calloc(rows * K, sizeof(double));
  dgemm_mt(rows, K, K, 1.0, M, K, 1, Li, 1, K, Y, K);
  memset(M, 0, sizeof(double) * rows * K);
  dgemm_mt(rows, K, K, 1.0, Y, K, 1, Li, K, 1, M, K);
  write_file(out, M, sizeof(double) * rows * K);
  return 0;
}

/* H = XᵀX and the Cholesky-based factors of src/passes/sparsity/linalg.ts, blocked so
 * that nearly all the work is GEMM (the JS reference is the row-oriented loop). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ssmc_native.h"

#define NB 64

void gram_add(double *H, long K, const double *X, long T) {
  /* Upper block triangle only: row block [i0, i0+NB) against columns [i0, K). */
  for (long i0 = 0; i0 < K; i0 += NB) {
    long ib = K - i0 < NB ? K - i0 : NB;
    dgemm_mt(ib, K - i0, T, 1.0, X + i0, 1, K, X + i0, K, 1, H + i0 * K + i0, K);
  }
}

void gram_finish(double *H, long K) {
  for (long i = 0; i < K; i++)
    for (long j = i + 1; j < K; j++) H[j * K + i] = H[i * K + j];
}

/* Left-looking blocked Cholesky: the panel update is a GEMM, the diagonal block and the
 * rows below it are solved in the row-oriented form of the JS reference. */
int chol_lower(double *A, long K) {
  for (long j0 = 0; j0 < K; j0 += NB) {
    long jb = K - j0 < NB ? K - j0 : NB;
    /* A[j0:K, j0:j0+jb] -= A[j0:K, 0:j0] · A[j0:j0+jb, 0:j0]ᵀ */
    if (j0 > 0) dgemm_mt(K - j0, jb, j0, -1.0, A + j0 * K, K, 1, A + j0 * K, 1, K, A + j0 * K + j0, K);
    for (long j = j0; j < j0 + jb; j++) {
      double *rj = A + j * K;
      double d = rj[j];
      for (long k = j0; k < j; k++) d -= rj[k] * rj[k];
      if (!(d > 0)) return 0;
      double ljj = sqrt(d);
      rj[j] = ljj;
      double inv = 1 / ljj;
      for (long i = j + 1; i < K; i++) {
        double *ri = A + i * K;
        double s = ri[j];
        for (long k = j0; k < j; k++) s -= ri[k] * rj[k];
        ri[j] = s * inv;
      }
    }
  }
  for (long i = 0; i < K; i++) memset(A + i * K + i + 1, 0, sizeof(double) * (K - i - 1));
  return 1;
}

/* M = L⁻¹ by row blocks: M[I,I] = L[I,I]⁻¹, M[I,0:i0] = -M[I,I]·(L[I,0:i0]·M[0:i0,0:i0]). */
void tri_lower_inverse(const double *L, double *M, long K) {
  memset(M, 0, sizeof(double) * K * K);
  double *tmp = nat_alloc(sizeof(double) * NB * (K > 0 ? K : 1));
  for (long i0 = 0; i0 < K; i0 += NB) {
    long ib = K - i0 < NB ? K - i0 : NB;
    /* diagonal block inverse, column by column of the identity (forward substitution) */
    for (long c = 0; c < ib; c++) {
      for (long i = c; i < ib; i++) {
        const double *li = L + (i0 + i) * K + i0;
        double s = i == c ? 1.0 : 0.0;
        for (long k = c; k < i; k++) s -= li[k] * M[(i0 + k) * K + i0 + c];
        M[(i0 + i) * K + i0 + c] = s / li[i];
      }
    }
    if (i0 == 0) continue;
    memset(tmp, 0, sizeof(double) * ib * i0);
    /* M is lower: column block J of the product only needs rows k >= J's start */
    for (long j0 = 0; j0 < i0; j0 += NB) {
      long jb = i0 - j0 < NB ? i0 - j0 : NB;
      dgemm_mt(ib, jb, i0 - j0, 1.0, L + i0 * K + j0, K, 1, M + j0 * K + j0, K, 1, tmp + j0, i0);
    }
    dgemm_mt(ib, i0, ib, -1.0, M + i0 * K + i0, K, 1, tmp, i0, 1, M + i0 * K, K);
  }
  nat_free(tmp);
}

int inverse_cholesky_upper(const double *H, double *U, long K) { return inverse_cholesky_upper_r(H, U, NULL, K); }

int inverse_cholesky_upper_r(const double *H, double *U, double *R, long K) {
  /* PHP = L̃L̃ᵀ with P the reversal; U = R⁻¹ with R = PL̃P, i.e. U = P·L̃⁻¹·P. */
  double *A = nat_alloc(sizeof(double) * K * K);
  for (long i = 0; i < K; i++)
    for (long j = 0; j < K; j++) A[i * K + j] = H[(K - 1 - i) * K + K - 1 - j];
  if (!chol_lower(A, K)) {
    nat_free(A);
    return 0;
  }
  if (R)
    for (long i = 0; i < K; i++)
      for (long j = 0; j < K; j++) R[i * K + j] = A[(K - 1 - i) * K + K - 1 - j];
  double *Mi = nat_alloc(sizeof(double) * K * K);
  tri_lower_inverse(A, Mi, K);
  for (long i = 0; i < K; i++)
    for (long j = 0; j < K; j++) U[i * K + j] = Mi[(K - 1 - i) * K + K - 1 - j];
  nat_free(A);
  nat_free(Mi);
  return 1;
}

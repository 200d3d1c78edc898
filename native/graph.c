/* A small executor for sliced calibration graphs (the ops of src/ir/ops that a Mamba
 * model uses), run window by window from a zero state. It computes what the Calibrator
 * asks of the windows — values, H = XᵀX of a value, the next-token loss, KL to reference
 * log-probabilities, log-probabilities — without sending activations back to Node.
 * Numerics follow the reference ops with f32 GEMMs (the interpreter accumulates in f64)
 * and a polynomial expf in the scan. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "ssmc_native.h"

enum { K_F32 = 0, K_I32 = 1 };
enum { SRC_NODE, SRC_WEIGHT, SRC_INPUT, SRC_ZERO };
enum { OP_EMBED, OP_RMS, OP_LINEAR, OP_SPLIT, OP_CONV, OP_SILU, OP_SOFTPLUS, OP_EXP, OP_NEG, OP_ADD, OP_SUB, OP_MUL, OP_SCAN };
enum { OUT_VALUES, OUT_GRAM, OUT_NLL, OUT_KL, OUT_LOGPROBS };

typedef struct {
  int kind, src, rank;
  long numel, dims[4];
  void *data;  /* weights, zeros: fixed; inputs: this run's part of base; node outputs: per run */
  void *base;  /* inputs: all runs */
  int last;    /* index of the last node reading it (nodes count = kept to the end) */
} value;

typedef struct {
  int op, nin, nout;
  int in[8], out[8];
  int nattr;
  double attr[16];
} node;

typedef struct {
  int kind, id, L;
  char path[4096];
  char aux[4096];
  /* accumulators */
  double *H;
  double sum;
  long count, rows;
  float *buf;
  const int32_t *tokens;
  const float *ref;
  const double *pref; /* exp(ref), see ref_probs */
} output;

static value *vals;
static int nvals;
static node *nodes;
static int nnodes;
static output outs[16];
static int nouts;
static long runs;
static double op_ms[16];

static const void *map_file(const char *path, size_t *bytes) { return nat_map(path, bytes); }

static int op_code(const char *s) {
  static const char *names[] = {"nn.embedding", "nn.rms_norm", "nn.linear", "tensor.split", "ssm.conv1d", "ew.silu", "ew.softplus", "ew.exp", "ew.neg", "ew.add", "ew.sub", "ew.mul", "ssm.scan"};
  for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
    if (!strcmp(s, names[i])) return i;
  if (!strcmp(s, "ssm.conv1d_step")) return OP_CONV;
  if (!strcmp(s, "ssm.scan_step")) return OP_SCAN;
  nat_die(4, "unsupported op %s", s);
}

static void parse(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) nat_die(2, "cannot open %s", path);
  char tok[4096];
  int cap_v = 0, cap_n = 0;
  /* the persistent helper runs many programs: start empty */
  nvals = nnodes = nouts = 0;
  runs = 0;
  memset(op_ms, 0, sizeof op_ms);
  while (fscanf(f, "%4095s", tok) == 1) {
    if (!strcmp(tok, "ssmcprog")) {
      int v;
      if (fscanf(f, "%d", &v) != 1 || v != 1) nat_die(2, "program version");
    } else if (!strcmp(tok, "runs")) {
      if (fscanf(f, "%ld", &runs) != 1) nat_die(2, "bad runs");
    } else if (!strcmp(tok, "value")) {
      int id;
      value v = {0};
      if (fscanf(f, "%d %d %ld %d", &id, &v.kind, &v.numel, &v.rank) != 4 || v.rank > 4) nat_die(2, "bad value");
      for (int i = 0; i < v.rank; i++)
        if (fscanf(f, "%ld", &v.dims[i]) != 1) nat_die(2, "bad dims");
      if (id >= cap_v) {
        int nc = (id + 1) * 2;
        vals = realloc(vals, sizeof(value) * nc);
        memset(vals + cap_v, 0, sizeof(value) * (nc - cap_v));
        cap_v = nc;
      }
      v.src = SRC_NODE;
      v.last = -1;
      vals[id] = v;
      if (id >= nvals) nvals = id + 1;
    } else if (!strcmp(tok, "weight") || !strcmp(tok, "input")) {
      int id;
      char p[4096];
      if (fscanf(f, "%d %4095s", &id, p) != 2 || id >= nvals) nat_die(2, "bad %s", tok);
      size_t bytes;
      vals[id].data = vals[id].base = (void *)map_file(p, &bytes);
      vals[id].src = tok[0] == 'w' ? SRC_WEIGHT : SRC_INPUT;
      long want = vals[id].numel * 4 * (tok[0] == 'w' ? 1 : runs);
      /* an input file may hold more runs than this call uses */
      if (tok[0] == 'w' ? (long)bytes != want : (long)bytes < want) nat_die(2, "%s %s: %zu bytes, expected %ld", tok, p, bytes, want);
    } else if (!strcmp(tok, "zero")) {
      int id;
      if (fscanf(f, "%d", &id) != 1 || id >= nvals) nat_die(2, "bad zero");
      vals[id].data = nat_calloc(vals[id].numel ? vals[id].numel : 1, 4);
      vals[id].src = SRC_ZERO;
    } else if (!strcmp(tok, "node")) {
      if (nnodes >= cap_n) {
        cap_n = cap_n ? cap_n * 2 : 64;
        nodes = realloc(nodes, sizeof(node) * cap_n);
      }
      node *n = &nodes[nnodes++];
      memset(n, 0, sizeof *n);
      char op[256];
      if (fscanf(f, "%255s %d", op, &n->nin) != 2 || n->nin > 8) nat_die(2, "bad node");
      n->op = op_code(op);
      for (int i = 0; i < n->nin; i++)
        if (fscanf(f, "%d", &n->in[i]) != 1) nat_die(2, "bad node input");
      if (fscanf(f, "%d", &n->nout) != 1 || n->nout > 8) nat_die(2, "bad node");
      for (int i = 0; i < n->nout; i++)
        if (fscanf(f, "%d", &n->out[i]) != 1) nat_die(2, "bad node output");
      if (fscanf(f, "%d", &n->nattr) != 1 || n->nattr > 16) nat_die(2, "bad attrs");
      for (int i = 0; i < n->nattr; i++)
        if (fscanf(f, "%lf", &n->attr[i]) != 1) nat_die(2, "bad attr");
    } else if (!strcmp(tok, "out")) {
      if (nouts >= 16) nat_die(2, "more than 16 outputs");
      output *o = &outs[nouts++];
      memset(o, 0, sizeof *o);
      char kind[64];
      if (fscanf(f, "%63s %d", kind, &o->id) != 2) nat_die(2, "bad out");
      if (!strcmp(kind, "values")) o->kind = OUT_VALUES;
      else if (!strcmp(kind, "gram")) o->kind = OUT_GRAM;
      else if (!strcmp(kind, "nll")) o->kind = OUT_NLL;
      else if (!strcmp(kind, "kl")) o->kind = OUT_KL;
      else if (!strcmp(kind, "logprobs")) o->kind = OUT_LOGPROBS;
      else nat_die(2, "bad out kind %s", kind);
      if (o->kind == OUT_NLL || o->kind == OUT_KL) {
        if (fscanf(f, "%4095s", o->aux) != 1) nat_die(2, "bad out");
      }
      if (o->kind >= OUT_NLL && fscanf(f, "%d", &o->L) != 1) nat_die(2, "bad out");
      if (fscanf(f, "%4095s", o->path) != 1) nat_die(2, "bad out");
    } else if (!strcmp(tok, "end")) {
      break;
    } else nat_die(2, "bad program token %s", tok);
  }
  fclose(f);
}

/* ---- ops ---------------------------------------------------------------------------- */

/* expf by range reduction and a degree-6 polynomial: branch-free, so the scan vectorizes. */
static inline float fast_expf(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  /* round to nearest by the 1.5·2^23 trick (vectorizes, unlike roundf) */
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693145751953125f;
  r = r - n * 1.428606765330187e-06f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.008333334f + r * 0.0013888889f)))));
  int32_t e = ((int32_t)n + 127) << 23;
  float s;
  memcpy(&s, &e, 4);
  return p * s;
}

struct scan_ctx {
  const float *state, *x, *dt, *A, *B, *C;
  float *y, *st;
  long L, e, s;
};

/* Time outer, channels inner (contiguous dt/x rows); the thread's states stay in cache. */
static void scan_worker(void *p, int t, int nt) {
  struct scan_ctx *c = p;
  long lo, hi, s = c->s, e = c->e;
  nat_split(e, t, nt, 16, &lo, &hi);
  if (hi <= lo) return;
  float *S = nat_alloc(sizeof(float) * (hi - lo) * s);
  memcpy(S, c->state + lo * s, sizeof(float) * (hi - lo) * s);
  for (long t2 = 0; t2 < c->L; t2++) {
    const float *B = c->B + t2 * s, *C = c->C + t2 * s;
    const float *dt = c->dt + t2 * e, *x = c->x + t2 * e;
    float *y = c->y + t2 * e;
    for (long ch = lo; ch < hi; ch++) {
      float d = dt[ch], dx = d * x[ch];
      const float *A = c->A + ch * s;
      float *Sc = S + (ch - lo) * s;
      for (long j = 0; j < s; j++) Sc[j] = fast_expf(d * A[j]) * Sc[j] + dx * B[j];
      float acc = 0;
      for (long j = 0; j < s; j++) acc += Sc[j] * C[j];
      y[ch] = acc;
    }
  }
  memcpy(c->st + lo * s, S, sizeof(float) * (hi - lo) * s);
  nat_free(S);
}

static inline float silu(float v) { return v / (1.0f + fast_expf(-v)); }
static inline float softplus(float v) { return v > 20 ? v : log1pf(fast_expf(v)); }

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static void exec_node(const node *n) {
  value *in[8], *out[8];
  for (int i = 0; i < n->nin; i++) in[i] = &vals[n->in[i]];
  for (int i = 0; i < n->nout; i++) {
    out[i] = &vals[n->out[i]];
    out[i]->data = nat_alloc(sizeof(float) * (out[i]->numel ? out[i]->numel : 1));
  }
  switch (n->op) {
    case OP_EMBED: {
      const float *tab = in[0]->data;
      const int32_t *tk = in[1]->data;
      long V = in[0]->dims[0], d = in[0]->dims[1];
      float *o = out[0]->data;
      for (long t = 0; t < in[1]->numel; t++) {
        if (tk[t] < 0 || tk[t] >= V) nat_die(2, "token %d outside the vocabulary [0, %ld)", tk[t], V);
        memcpy(o + t * d, tab + (long)tk[t] * d, sizeof(float) * d);
      }
      break;
    }
    case OP_RMS: {
      const float *x = in[0]->data, *w = in[1]->data;
      long d = in[1]->numel;
      float *o = out[0]->data;
      double eps = n->attr[0];
      for (long r = 0; r < in[0]->numel; r += d) {
        double ss = 0;
        for (long i = 0; i < d; i++) ss += (double)x[r + i] * x[r + i];
        double scale = 1 / sqrt(ss / d + eps);
        for (long i = 0; i < d; i++) o[r + i] = (float)((double)x[r + i] * scale * w[i]);
      }
      break;
    }
    case OP_LINEAR: {
      long N = in[1]->dims[0], K = in[1]->dims[1];
      long T = in[0]->numel / K;
      float *o = out[0]->data;
      memset(o, 0, sizeof(float) * T * N);
      sgemm_mt(T, N, K, 1.0f, in[0]->data, K, 1, in[1]->data, 1, K, o, N);
      if (n->nin > 2) {
        const float *b = in[2]->data;
        for (long t = 0; t < T; t++)
          for (long j = 0; j < N; j++) o[t * N + j] += b[j];
      }
      break;
    }
    case OP_SPLIT: {
      const float *x = in[0]->data;
      long d = in[0]->dims[in[0]->rank - 1];
      long rows = in[0]->numel / d, start = 0;
      for (int i = 0; i < n->nout; i++) {
        long s = (long)n->attr[i];
        float *o = out[i]->data;
        for (long r = 0; r < rows; r++) memcpy(o + r * s, x + r * d + start, sizeof(float) * s);
        start += s;
      }
      break;
    }
    case OP_CONV: {
      /* window element j at time t is input s = t-(k-1)+j: x[s] when s >= 0, else state[k+s] */
      long e = in[2]->dims[0], k = in[2]->dims[1];
      const float *x = in[1]->data, *w = in[2]->data, *b = n->nin > 3 ? in[3]->data : NULL, *st = in[0]->data;
      float *y = out[0]->data, *win = out[1]->data;
      long L = in[1]->numel / e;
      for (long t = 0; t < L; t++) {
        float *yt = y + t * e;
        for (long c = 0; c < e; c++) yt[c] = b ? b[c] : 0;
        for (long j = 0; j < k; j++) {
          long src = t - (k - 1) + j;
          if (src >= 0) {
            const float *xs = x + src * e;
            for (long c = 0; c < e; c++) yt[c] += w[c * k + j] * xs[c];
          } else {
            for (long c = 0; c < e; c++) yt[c] += w[c * k + j] * st[c * k + k + src];
          }
        }
      }
      for (long c = 0; c < e; c++)
        for (long j = 0; j < k; j++) {
          long src = L - 1 - (k - 1) + j;
          win[c * k + j] = src >= 0 ? x[src * e + c] : st[c * k + k + src];
        }
      break;
    }
    case OP_SILU: case OP_SOFTPLUS: case OP_EXP: case OP_NEG: {
      const float *x = in[0]->data;
      float *o = out[0]->data;
      long m = out[0]->numel;
      if (n->op == OP_SILU) for (long i = 0; i < m; i++) o[i] = silu(x[i]);
      else if (n->op == OP_SOFTPLUS) for (long i = 0; i < m; i++) o[i] = softplus(x[i]);
      else if (n->op == OP_EXP) for (long i = 0; i < m; i++) o[i] = (float)exp((double)x[i]);
      else for (long i = 0; i < m; i++) o[i] = -x[i];
      break;
    }
    case OP_ADD: case OP_SUB: case OP_MUL: {
      const float *a = in[0]->data, *b = in[1]->data;
      long na = in[0]->numel, nb = in[1]->numel, m = out[0]->numel;
      float *o = out[0]->data;
      if (na == m && nb == m) {
        if (n->op == OP_ADD) for (long i = 0; i < m; i++) o[i] = a[i] + b[i];
        else if (n->op == OP_SUB) for (long i = 0; i < m; i++) o[i] = a[i] - b[i];
        else for (long i = 0; i < m; i++) o[i] = a[i] * b[i];
      } else {
        for (long i = 0; i < m; i++) {
          float u = a[i % na], v = b[i % nb];
          o[i] = n->op == OP_ADD ? u + v : n->op == OP_SUB ? u - v : u * v;
        }
      }
      break;
    }
    case OP_SCAN: {
      long e = in[3]->dims[0], s = in[3]->dims[1];
      if (s > 256) nat_die(4, "scan state width %ld > 256", s);
      struct scan_ctx c = {in[0]->data, in[1]->data, in[2]->data, in[3]->data, in[4]->data, in[5]->data, out[0]->data, out[1]->data, in[1]->numel / e, e, s};
      nat_parallel(e >= 64 ? nat_threads() : 1, scan_worker, &c);
      break;
    }
  }
}

/* ---- outputs ------------------------------------------------------------------------ */

struct pos_ctx {
  output *o;
  const float *lg;
  long V, L, run;
  double sum[64];
};

static void positions_worker(void *p, int t, int nt) {
  struct pos_ctx *c = p;
  output *o = c->o;
  long lo, hi, V = c->V;
  nat_split(c->L - 1, t, nt, 1, &lo, &hi);
  double acc = 0;
  for (long i = lo; i < hi; i++) {
    const float *lg = c->lg + i * V;
    double mx = -INFINITY;
    for (long j = 0; j < V; j++) mx = lg[j] > mx ? lg[j] : mx;
    double s = 0;
    for (long j = 0; j < V; j++) s += exp(lg[j] - mx);
    double lse = log(s) + mx;
    long pos = c->run * (c->L - 1) + i;
    if (o->kind == OUT_NLL) {
      acc += lse - lg[o->tokens[c->run * c->L + i + 1]];
    } else if (o->kind == OUT_LOGPROBS) {
      float *dst = o->buf + pos * V;
      for (long j = 0; j < V; j++) dst[j] = (float)(lg[j] - lse);
    } else {
      const float *ref = o->ref + pos * V;
      const double *p = o->pref + pos * V;
      double k = 0;
      for (long j = 0; j < V; j++) {
        double lp = ref[j];
        k += p[j] * (lp - (float)(lg[j] - lse));
      }
      acc += k > 0 ? k : 0;
    }
  }
  c->sum[t] = acc;
}

/* exp of the KL reference log-probabilities. Every sensitivity of a pass measures KL to
 * the same reference (a kept file), so the persistent helper computes them once per
 * reference instead of once per call (half the exps of a KL call). */
static const double *ref_probs(const char *path, const float *ref, long n) {
  static char *last;
  static double *p;
  static long count;
  if (last && !strcmp(last, path) && count == n) return p;
  free(last);
  free(p);
  last = strdup(path);
  p = malloc(sizeof(double) * (n ? n : 1));
  if (!last || !p) nat_die(2, "out of memory");
  count = n;
  for (long i = 0; i < n; i++) p[i] = exp((double)ref[i]);
  return p;
}

static void collect(output *o, long r) {
  value *v = &vals[o->id];
  if (o->kind == OUT_VALUES) {
    memcpy(o->buf + r * v->numel, v->data, sizeof(float) * v->numel);
  } else if (o->kind == OUT_GRAM) {
    long K = v->dims[v->rank - 1], T = v->numel / K;
    if (!o->H) o->H = nat_calloc(K * K + K + 1, sizeof(double));
    double *X = nat_alloc(sizeof(double) * v->numel);
    const float *x = v->data;
    for (long i = 0; i < v->numel; i++) X[i] = x[i];
    gram_add(o->H, K, X, T);
    nat_free(X);
    o->rows += T;
  } else {
    long V = v->dims[v->rank - 1];
    if (o->L < 2 || v->numel != o->L * V) nat_die(2, "positions need a [L, V] logits value");
    struct pos_ctx c = {o, v->data, V, o->L, r, {0}};
    int nt = nat_threads();
    nat_parallel(nt, positions_worker, &c);
    for (int t = 0; t < nt; t++) o->sum += c.sum[t];
    o->count += o->L - 1;
  }
}

int cmd_run(int argc, char **argv) {
  parse(arg_str(argc, argv, "prog"));
  /* last uses: node index; outputs are kept to the end of the run */
  for (int i = 0; i < nnodes; i++)
    for (int j = 0; j < nodes[i].nin; j++) vals[nodes[i].in[j]].last = i;
  for (int k = 0; k < nouts; k++) vals[outs[k].id].last = nnodes;
  for (int k = 0; k < nouts; k++) {
    output *o = &outs[k];
    value *v = &vals[o->id];
    size_t bytes;
    if (o->kind == OUT_VALUES) o->buf = nat_alloc(sizeof(float) * v->numel * runs);
    if (o->kind == OUT_LOGPROBS) o->buf = nat_alloc(sizeof(float) * v->numel / o->L * (o->L - 1) * runs);
    if (o->kind == OUT_NLL) {
      o->tokens = map_file(o->aux, &bytes);
      if ((long)bytes < runs * o->L * 4) nat_die(2, "token file too short");
    }
    if (o->kind == OUT_KL) {
      o->ref = map_file(o->aux, &bytes);
      long V = v->dims[v->rank - 1];
      if ((long)bytes < runs * (o->L - 1) * V * 4) nat_die(2, "KL reference has fewer positions than the run");
      o->pref = ref_probs(o->aux, o->ref, bytes / 4);
    }
  }
  for (long r = 0; r < runs; r++) {
    for (int i = 0; i < nvals; i++)
      if (vals[i].src == SRC_INPUT) vals[i].data = (char *)vals[i].base + (size_t)r * vals[i].numel * 4;
    for (int i = 0; i < nnodes; i++) {
      node *n = &nodes[i];
      for (int j = 0; j < n->nin; j++)
        if (!vals[n->in[j]].data) nat_die(2, "value %d used before it is computed", n->in[j]);
      double t0 = now_ms();
      exec_node(n);
      op_ms[n->op] += now_ms() - t0;
      for (int j = 0; j < n->nin; j++) {
        value *v = &vals[n->in[j]];
        if (v->src == SRC_NODE && v->last == i && v->data) {
          nat_free(v->data);
          v->data = NULL;
        }
      }
      /* an output nobody reads (e.g. a state) */
      for (int j = 0; j < n->nout; j++) {
        value *v = &vals[n->out[j]];
        if (v->last < 0) {
          nat_free(v->data);
          v->data = NULL;
        }
      }
    }
    double t0 = now_ms();
    for (int k = 0; k < nouts; k++) collect(&outs[k], r);
    op_ms[15] += now_ms() - t0;
    for (int i = 0; i < nvals; i++)
      if (vals[i].src == SRC_NODE && vals[i].data) {
        nat_free(vals[i].data);
        vals[i].data = NULL;
      }
  }
  if (getenv("SSMC_NATIVE_PROFILE")) {
    static const char *names[16] = {"embed", "rms", "linear", "split", "conv", "silu", "softplus", "exp", "neg", "add", "sub", "mul", "scan", "", "", "outputs"};
    for (int i = 0; i < 16; i++)
      if (op_ms[i] > 0) fprintf(stderr, "profile %s %.1f ms\n", names[i], op_ms[i]);
  }
  for (int k = 0; k < nouts; k++) {
    output *o = &outs[k];
    value *v = &vals[o->id];
    if (o->kind == OUT_VALUES) write_file(o->path, o->buf, sizeof(float) * v->numel * runs);
    else if (o->kind == OUT_LOGPROBS) write_file(o->path, o->buf, sizeof(float) * v->numel / o->L * (o->L - 1) * runs);
    else if (o->kind == OUT_GRAM) {
      long K = v->dims[v->rank - 1];
      if (!o->H) o->H = nat_calloc(K * K + K + 1, sizeof(double));
      gram_finish(o->H, K);
      for (long j = 0; j < K; j++) o->H[K * K + j] = sqrt(o->H[j * K + j]);
      o->H[K * K + K] = (double)o->rows;
      write_file(o->path, o->H, sizeof(double) * (K * K + K + 1));
    } else {
      double res[2] = {o->sum, (double)o->count};
      write_file(o->path, res, sizeof res);
    }
  }
  return 0;
}

// SparsityKernels on the native helper (native/obs.c): the OBS sweep with all rows'
// lazy updates as one GEMM, damages as (D·H)∘D row sums, H and XᵀY by blocked GEMM,
// the refit through L⁻¹. magnitude and Wanda (no Hessian work in the sweep) keep the
// JS path except for their damage tables.
import type { LayerStats } from '../passes/analysis/calibration.ts';
import { jsKernels, type SparsityKernels } from '../passes/sparsity/kernels.ts';
import type { MeasuredTable } from '../passes/sparsity/prune.ts';
import { NativeSession } from './session.ts';

export class NativeKernels implements SparsityKernels {
  readonly name = 'native' as const;
  readonly session: NativeSession;

  constructor(session = new NativeSession()) {
    this.session = session;
  }

  table(...a: Parameters<SparsityKernels['table']>): MeasuredTable {
    const [method, W0, rows, K, stats, o] = a;
    if (method !== 'obs') return jsKernels.table(...a);
    const s = this.session;
    const out = s.path('t');
    s.call('table', { rows, K, damp: o.damp, blocksize: o.blocksize, W: s.write('w', W0), H: s.writeCached(stats.H), norms: s.write('n', stats.norms), out }, o.what);
    const table = s.readF64(`${out}.table`, rows * 5);
    const results = [undefined, ...[1, 2, 3].map((n) => s.readF64(`${out}.r${n}`, rows * K))];
    return { table, results };
  }

  prune(...a: Parameters<SparsityKernels['prune']>) {
    const [method, W0, rows, K, n, stats, o] = a;
    if (method !== 'obs' || !stats) return jsKernels.prune(...a);
    const s = this.session;
    const out = s.path('p');
    s.call('prune', { rows, K, damp: o.damp, blocksize: o.blocksize, W: s.write('w', W0), H: s.writeCached(stats.H), norms: s.write('n', stats.norms), n: s.write('u8', n), out }, o.what);
    return { W: s.readF64(`${out}.W`, rows * K), damage: s.readF64(`${out}.damage`, rows) };
  }

  layerError(W0: Float64Array, W: Float64Array, rows: number, K: number, H: Float64Array) {
    const s = this.session;
    const out = s.path('e');
    s.call('damage', { rows, K, W0: s.write('w0', W0), W: s.write('w', W), H: s.writeCached(H), out });
    const [before, after, energy] = s.readF64(out, 3);
    return { before, after, energy };
  }

  cross(Xp: Float32Array, Xd: Float32Array, K: number): { stats: LayerStats; C: Float64Array } {
    const s = this.session;
    const T = Xp.length / K;
    const out = s.path('x');
    s.call('cross', { T, K, Xp: s.writeCached(Xp), Xd: s.writeCached(Xd), out });
    const H = s.readF64(`${out}.H`, K * K);
    const norms = new Float64Array(K);
    for (let j = 0; j < K; j++) norms[j] = Math.sqrt(H[j * K + j]);
    return { stats: { K, H, norms, rows: T }, C: s.readF64(`${out}.C`, K * K) };
  }

  refit(W: Float64Array, rows: number, K: number, Hp: Float64Array, C: Float64Array, damp: number, what: string): Float64Array {
    const s = this.session;
    const out = s.path('r');
    s.call('refit', { rows, K, damp, W: s.write('w', W), H: s.writeCached(Hp), C: s.write('c', C), out }, what);
    return s.readF64(out, rows * K);
  }

  close(): void {
    this.session.close();
  }
}

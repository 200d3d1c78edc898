import { defineOp, typeError } from '../op-registry.ts';
import { alloc, f32, i32 } from '../tensor.ts';
import { act, expectFloat, expectRank } from './check.ts';
import { dtypeBytes, numel } from '../types.ts';

/** Row lookup: out[..., :] = table[tokens[...], :]. A token outside [0, V) is an error. */
export const embedding = defineOp({
  kind: 'nn.embedding',
  description: 'out[t, :] = table[tokens[t], :] (tokens i32, any rank; output adds a trailing d)',
  fusion: 'injective',
  inputs: ['table', 'tokens'],
  attrs: {},
  infer([table, tokens]) {
    expectFloat(table, 'table');
    expectRank(table, [2], 'table');
    if (tokens.dtype !== 'i32') typeError(`tokens must be i32, got ${tokens.dtype}`);
    expectRank(tokens, [0, 1], 'tokens');
    return [act([...tokens.shape, table.shape[1]])];
  },
  evaluate([table, tokens], _attrs, [outT]) {
    const out = alloc(outT);
    const o = f32(out);
    const w = f32(table);
    const [V, d] = table.type.shape;
    const toks = i32(tokens);
    for (let t = 0; t < toks.length; t++) {
      const id = toks[t];
      if (id < 0 || id >= V) typeError(`token ${id} at position ${t} is outside the vocabulary [0, ${V})`);
      o.set(w.subarray(id * d, id * d + d), t * d);
    }
    return [out];
  },
  cost([table, tokens], [out]) {
    // Reads only the selected rows of the table, not all of it.
    return { bytes: numel(out.shape) * (dtypeBytes(table.dtype) + 4) + numel(tokens.shape) * 4, flops: 0 };
  },
  // Scatter-add of each position's gradient into its token's row; tokens have none.
  vjp({ inputs: [table, tokens], outGrads: [g], wants }) {
    if (!g || !wants[0]) return [undefined, undefined];
    const [V, d] = table.type.shape;
    const dt = new Float64Array(V * d);
    const toks = i32(tokens);
    for (let t = 0; t < toks.length; t++) {
      const r = toks[t] * d;
      for (let i = 0; i < d; i++) dt[r + i] += g[t * d + i];
    }
    return [dt, undefined];
  },
});

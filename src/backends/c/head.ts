// The head of a prefill: the nodes that only the logits need (the last layer's gate,
// out_proj and residual, the final norm, the tied head matvec: ~30% of a 130m
// prefill's multiply-adds). A generation runtime needs the logits of the prompt's last
// token only, so ssmc_model_prefill_last runs these nodes on the last row of the chunk
// (as the decode step computes them: the rows are independent) and not at all for a
// chunk before the last.
import { SsmcError } from '../../errors.ts';
import type { FlatNode } from '../flatten.ts';
import type { GraphIO } from '../graph-io.ts';

/** Ops that compute each token's row from that token's rows alone (so one row may be computed). */
const ROW_WISE = new Set(['nn.linear', 'nn.embedding', 'nn.rms_norm', 'tensor.split', 'tensor.gather', 'copy', 'ew.add', 'ew.sub', 'ew.mul', 'ew.exp', 'ew.neg', 'ew.silu', 'ew.softplus']);

export interface HeadSplit {
  /** Nodes some next state depends on, in order. */
  readonly body: FlatNode[];
  /** The rest, in order: what only the logits need. */
  readonly head: FlatNode[];
}

/** Splits a flattened prefill into the nodes the next state needs and the head (see above). */
export function splitHead(flat: readonly FlatNode[], gio: GraphIO): HeadSplit {
  const needed = new Set(gio.stateOut.keys());
  const inBody = new Array<boolean>(flat.length).fill(false);
  for (let i = flat.length - 1; i >= 0; i--) {
    if (!flat[i].outputs.some((v) => needed.has(v.name))) continue;
    inBody[i] = true;
    for (const n of flat[i].inputs) needed.add(n);
  }
  const head = flat.filter((_, i) => !inBody[i]);
  for (const f of head) {
    if (!ROW_WISE.has(f.op)) throw new SsmcError('E_UNSUPPORTED', `C backend: ${f.op} computes only the logits but is not row-wise, so the last-token prefill cannot run it on one row`, { what: `%${f.outputs[0]?.name}` });
  }
  return { body: flat.filter((_, i) => inBody[i]), head };
}

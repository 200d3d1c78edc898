// Cost of obs adaptive pruning on a real model shape (synthetic 130m weights), measured
// on the first `--blocks` blocks and extrapolated to all of them: calibration (the
// interpreter over the cached-anchor slices), damage tables (three OBS sweeps + damage
// evaluations per matrix), and one sensitivity loss evaluation.
// Usage: npx tsx bench/accuracy/prune-130m.ts [--tokens 4096] [--blocks 1] [--sens-tokens 512]
import { parseArgs } from 'node:util';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { synthCheckpoint } from '../../src/frontend/synth.ts';
import { Calibrator } from '../../src/passes/analysis/calibration.ts';
import { matrixPruner, measureTable } from '../../src/passes/sparsity/prune.ts';
import { DEFAULT_LAYERS, findTargets, parseLayers, toF64 } from '../../src/passes/sparsity/targets.ts';
import { Prng } from '../../src/util/prng.ts';
import { describeMachine } from '../../src/util/machine.ts';

const { values } = parseArgs({ options: { tokens: { type: 'string', default: '4096' }, blocks: { type: 'string', default: '1' }, 'sens-tokens': { type: 'string', default: '512' } } });
const T = Number(values.tokens);
const blocks = Number(values.blocks);
const sensTokens = Number(values['sens-tokens']);

const ck = synthCheckpoint('130m');
const graph = buildMambaGraph(ck, { mode: 'decode' });
const rng = new Prng(1, 'calib');
const tokens = Int32Array.from({ length: T }, () => rng.nextU32() % ck.config.vocabSize);
const targets = findTargets(graph, parseLayers(DEFAULT_LAYERS));
const perBlock = targets.length / ck.config.nLayer;
const cal = new Calibrator(graph, { tokens }, targets);
const weights = graph.weightData;
let tCal = 0;
let tTables = 0;
let tLoss = 0;
const t00 = performance.now();
for (let j = 0; j < blocks * perBlock; j++) {
  const t = targets[j];
  let t0 = performance.now();
  const stats = cal.collect(weights);
  tCal += performance.now() - t0;
  t0 = performance.now();
  const W0 = toF64(weights.get(t.weight), t.dtype);
  measureTable(matrixPruner('obs', W0, t.rows, t.cols, stats, { damp: 0.001, blocksize: 128, what: t.weight }), W0, t.rows, t.cols, stats.H);
  tTables += performance.now() - t0;
  process.stdout.write(`${t.weight} [${t.rows},${t.cols}] done at ${((performance.now() - t00) / 1000).toFixed(1)} s\n`);
  if (j === 0 && sensTokens > 0) {
    t0 = performance.now();
    cal.loss(weights, sensTokens);
    tLoss = performance.now() - t0;
  }
  t0 = performance.now();
  cal.advance(weights);
  tCal += performance.now() - t0;
}
const L = ck.config.nLayer;
const s = (ms: number) => ms / 1000;
const perBlockCal = s(tCal) / blocks;
const perBlockTables = s(tTables) / blocks;
// Adaptive = pass 1 (calibration + tables + one loss per matrix) + pass 2 (calibration + tables).
// The loss from block i's anchor runs the remaining blocks and the head: on average about
// half the model; the measured one ran from the tokens (the whole model).
const est = 2 * L * (perBlockCal + perBlockTables) + targets.length * s(tLoss) * 0.5;
const text = `130m synthetic, ${T} calibration tokens, measured on ${blocks} of ${L} blocks (${describeMachine()})
calibration per block      ${perBlockCal.toFixed(1)} s
damage tables per block    ${perBlockTables.toFixed(1)} s   (3 OBS sweeps + damages, 4 matrices)
loss over ${sensTokens} tokens (whole model) ${s(tLoss).toFixed(1)} s
estimated obs adaptive 50% (sens-tokens=${sensTokens}): ${(est / 60).toFixed(1)} min; with sens-tokens=0: ${((2 * L * (perBlockCal + perBlockTables)) / 60).toFixed(1)} min
peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB
`;
process.stdout.write(text);

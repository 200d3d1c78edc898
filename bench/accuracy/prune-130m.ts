// Cost of obs adaptive pruning on a real model shape (synthetic 130m weights): the whole
// sparsify-cn4 pass, timed, with the time per stage, the native helper's wall and CPU time
// per command, the CPU time of Node and of the helper, and the peak RSS. CPU times say
// where the work is even on a busy machine (wall times there include waiting for a core).
// `--blocks N` keeps only the first N blocks (a quick look; the issue's figure is all 24).
// Usage: npx tsx bench/accuracy/prune-130m.ts [--tokens 4096] [--sens-tokens 512]
//        [--sparsity 0.5] [--blocks 24] [--engine native|js] [--extra 'k=v ...']
import { parseArgs } from 'node:util';
import type { Checkpoint } from '../../src/frontend/checkpoint.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { synthCheckpoint } from '../../src/frontend/synth.ts';
import { nativePeak, nativeTimings } from '../../src/native/session.ts';
import { PassManager } from '../../src/passes/index.ts';
import type { SparsityReport } from '../../src/passes/sparsity/report.ts';
import { describeMachine } from '../../src/util/machine.ts';
import { Prng } from '../../src/util/prng.ts';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '4096' },
    'sens-tokens': { type: 'string', default: '512' },
    sparsity: { type: 'string', default: '0.5' },
    blocks: { type: 'string' },
    engine: { type: 'string', default: 'native' },
    extra: { type: 'string', default: '' },
  },
});
const T = Number(values.tokens);

let ck: Checkpoint = synthCheckpoint('130m');
const blocks = values.blocks ? Number(values.blocks) : ck.config.nLayer;
if (blocks < ck.config.nLayer) {
  const keep = new Map([...ck.tensors].filter(([name]) => !/^l(\d+)\./.test(name) || Number(/^l(\d+)\./.exec(name)![1]) < blocks));
  ck = { ...ck, config: { ...ck.config, nLayer: blocks }, tensors: keep };
}
const graph = buildMambaGraph(ck, { mode: 'decode' });
const rng = new Prng(1, 'calib');
const tokens = Int32Array.from({ length: T }, () => rng.nextU32() % ck.config.vocabSize);
const pipeline = `sparsify-cn4{method=obs sparsity=${values.sparsity} sens-tokens=${values['sens-tokens']} engine=${values.engine}${values.extra ? ` ${values.extra}` : ''}}`;

const t0 = performance.now();
const cpu0 = process.cpuUsage();
const stages = new Map<string, number>();
let lastStage = '';
let lastAt = t0;
let lastPrint = 0;
let report: SparsityReport | undefined;
new PassManager(pipeline, {
  services: { calibration: { tokens }, sparsityReport: (r: SparsityReport) => (report = r) },
  onProgress: (_pass, stage, done, total) => {
    const now = performance.now();
    if (stage !== lastStage) {
      if (lastStage) stages.set(lastStage, (stages.get(lastStage) ?? 0) + now - lastAt);
      lastStage = stage;
      lastAt = now;
    }
    if (now - lastPrint > 10_000 || done === total) {
      process.stderr.write(`${((now - t0) / 1000).toFixed(0)} s  ${stage} ${done}/${total}\n`);
      lastPrint = now;
    }
  },
}).run(graph);
const end = performance.now();
const cpu = process.cpuUsage(cpu0);
if (lastStage) stages.set(lastStage, (stages.get(lastStage) ?? 0) + end - lastAt);
const s = (ms: number) => (ms / 1000).toFixed(1);
const lines = [
  `130m synthetic, ${blocks} of 24 blocks, ${T} calibration tokens, ${pipeline}`,
  `machine: ${describeMachine()}`,
  `total ${s(end - t0)} s; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (Node), ${(nativePeak.rssKiB / 1024).toFixed(0)} MiB (native helper, a separate process; counts the session files it maps, the same pages as in /dev/shm); sparsity ${(100 * report!.sparsity).toFixed(2)}%`,
  `CPU: Node user ${s(cpu.user / 1000)} s + system ${s(cpu.system / 1000)} s; native helper user ${s(nativePeak.userMs)} s + system ${s(nativePeak.sysMs)} s`,
  ...[...stages].map(([k, v]) => `  stage ${k.padEnd(20)} ${s(v)} s`),
  ...[...nativeTimings].map(([k, v]) => `  native ${k.padEnd(14)} ${String(v.calls).padStart(5)} calls ${s(v.ms)} s wall, ${s(v.cpuMs)} s CPU`),
  report!.calibrationLoss ? `calibration loss ${report!.calibrationLoss.dense.toFixed(4)} -> ${report!.calibrationLoss.pruned.toFixed(4)}` : '',
];
process.stdout.write(`${lines.join('\n')}\n`);

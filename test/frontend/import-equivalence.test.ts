// The same weights imported from safetensors and from GGUF give identical graphs and
// identical logits (mutated model folders: test/fuzz/models.fuzz.test.ts).
import fc from 'fast-check';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeGgufMamba } from '../../src/frontend/gguf-mamba.ts';
import { writeHfFolder } from '../../src/frontend/hf-export.ts';
import { loadCheckpoint } from '../../src/frontend/load.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { InterpRunner } from '../../src/backends/interp/runner.ts';
import { graphDiff } from '../../src/ir/graph-equal.ts';
import { fixtureNames, fixturesDir, seed } from '../helpers/paths.ts';
import { arbConfig, randomCheckpoint } from '../helpers/random-model.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'ssmc-eq-'));

function expectSameModel(aPath: string, bPath: string, tokens: number[]): void {
  const a = loadCheckpoint(aPath);
  const b = loadCheckpoint(bPath);
  for (const mode of ['decode', 'prefill'] as const) {
    const ga = buildMambaGraph(a, { mode, seqLen: 3 });
    const gb = buildMambaGraph(b, { mode, seqLen: 3 });
    expect(graphDiff(ga, gb)).toBeUndefined();
  }
  const ra = new InterpRunner(buildMambaGraph(a));
  const rb = new InterpRunner(buildMambaGraph(b));
  for (const t of tokens) expect(Array.from(rb.step(t))).toEqual(Array.from(ra.step(t)));
}

describe('safetensors and GGUF imports agree', () => {
  it.each(fixtureNames())('fixture %s', (name) => {
    const dir = join(fixturesDir(), name);
    const gguf = join(tmp(), `${name}.gguf`);
    writeGgufMamba(loadCheckpoint(dir), gguf, { fileType: 'f32' });
    expectSameModel(dir, gguf, [71, 82, 69, 77, 10]);
  });

  it('random models (GGUF-representable: tied or untied head, conv bias, expand 2)', () => {
    fc.assert(
      fc.property(arbConfig, fc.integer({ min: 1, max: 1e6 }), (config, s) => {
        const c = { ...config, expand: 2, dInner: 2 * config.dModel, convBias: true, projBias: false };
        const ck = randomCheckpoint(c, s);
        const d = tmp();
        writeHfFolder(ck, join(d, 'hf'));
        // The GGUF holds the weights the HF folder holds (A as stored there, via A_log).
        writeGgufMamba(loadCheckpoint(join(d, 'hf')), join(d, 'm.gguf'), { fileType: 'f32' });
        expectSameModel(join(d, 'hf'), join(d, 'm.gguf'), [0, c.vocabSize - 1, 1 % c.vocabSize]);
      }),
      { seed, numRuns: 25 },
    );
  });
});

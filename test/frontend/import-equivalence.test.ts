// The same weights imported from safetensors and from GGUF give identical graphs and
// identical logits; mutated model folders only ever give typed errors.
import fc from 'fast-check';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SsmcError } from '../../src/errors.ts';
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

describe('mutated model folders give typed errors only', () => {
  const src = join(fixturesDir(), fixtureNames()[0]);
  const weights = new Uint8Array(readFileSync(join(src, 'model.safetensors')));
  const config = readFileSync(join(src, 'config.json'), 'utf8');

  it('byte mutations and truncations of model.safetensors and config.json', () => {
    fc.assert(
      fc.property(
        fc.record({
          cut: fc.option(fc.integer({ min: 0, max: weights.length - 1 }), { nil: undefined }),
          flips: fc.array(fc.tuple(fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
          configEdit: fc.option(fc.tuple(fc.constantFrom('hidden_size', 'state_size', 'num_hidden_layers', 'vocab_size', 'conv_kernel', 'time_step_rank', 'intermediate_size'), fc.oneof(fc.integer({ min: -3, max: 1 << 30 }), fc.constant('x'), fc.constant(null), fc.double())), { nil: undefined }),
        }),
        ({ cut, flips, configEdit }) => {
          const d = tmp();
          const w = weights.slice(0, cut ?? weights.length);
          for (const [at, v] of flips) if (at < w.length) w[at] = v;
          writeFileSync(join(d, 'model.safetensors'), w);
          const cfg = JSON.parse(config);
          if (configEdit) cfg[configEdit[0]] = configEdit[1];
          writeFileSync(join(d, 'config.json'), JSON.stringify(cfg));
          const t0 = Date.now();
          try {
            buildMambaGraph(loadCheckpoint(d));
          } catch (e) {
            if (!(e instanceof SsmcError)) throw e;
          }
          expect(Date.now() - t0).toBeLessThan(2000);
        },
      ),
      { seed, numRuns: 150 },
    );
  });

  it('a folder copy that is intact still loads (the harness itself is sound)', () => {
    const d = tmp();
    copyFileSync(join(src, 'model.safetensors'), join(d, 'model.safetensors'));
    writeFileSync(join(d, 'config.json'), config);
    expect(() => buildMambaGraph(loadCheckpoint(d))).not.toThrow();
  });
});

// config.json and whole models: the configuration readers (both Hugging Face
// conventions, GGUF metadata) fed arbitrary JSON, hostile field values and mutated
// text, and complete model folders / GGUF files with mutated weights and configuration
// loaded through the same path the CLI uses (loadCheckpoint + buildMambaGraph).
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gguf, writeGguf, type GgufValue } from '../../src/frontend/gguf.ts';
import { ggufMambaContents } from '../../src/frontend/gguf-mamba.ts';
import { hfConfigJson, writeHfFolder } from '../../src/frontend/hf-export.ts';
import { readHfConfig } from '../../src/frontend/hf-import.ts';
import { loadCheckpoint } from '../../src/frontend/load.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { configFromHfJson } from '../../src/frontend/mamba-config.ts';
import { tokenizerFor } from '../../src/tokenizer/index.ts';
import { fixtureNames, fixturesDir } from '../helpers/paths.ts';
import { arbConfig, randomCheckpoint } from '../helpers/random-model.ts';
import { byteMutation, fcOptions, mutateBytes, mutateText, Tally, textMutation, typedOnly } from './harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'ssmc-fuzz-models-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let serial = 0;
const fresh = () => join(dir, `m${serial++}`);

const fixture = join(fixturesDir(), fixtureNames()[0]);
const fixtureConfig = JSON.parse(readFileSync(join(fixture, 'config.json'), 'utf8')) as Record<string, unknown>;

/** Configurations in both conventions to start edits from. */
const baseConfigs = fc.oneof(
  fc.constant(fixtureConfig),
  arbConfig.chain((c) => fc.constantFrom(hfConfigJson(c, 'hf-transformers'), hfConfigJson(c, 'hf-mamba-ssm'))),
);

/** JSON values that break size, type and range checks. */
const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(0, -1, 1.5, 2 ** 20, 2 ** 31, 2 ** 40, 2 ** 53, 1e300, -0, null, true, false, '', '4', 'auto', 'Mamba2', 'mamba2', [], {}, [1], { layer: 'Mamba2' }),
  fc.jsonValue({ maxDepth: 2 }),
);

const configKeys = [
  'model_type', 'hidden_size', 'intermediate_size', 'state_size', 'num_hidden_layers', 'conv_kernel', 'expand', 'time_step_rank',
  'use_bias', 'use_conv_bias', 'layer_norm_epsilon', 'vocab_size', 'tie_word_embeddings', 'd_model', 'n_layer', 'pad_vocab_size_multiple',
  'rms_norm', 'd_intermediate', 'attn_layer_idx', 'ssm_cfg', 'norm_epsilon', 'tie_embeddings', '__proto__', 'constructor',
];

const configEdit = fc.record({ key: fc.constantFrom(...configKeys), value: fc.option(hostileJson, { nil: undefined }) });

function edited(base: Record<string, unknown>, edits: ReadonlyArray<{ key: string; value: unknown }>): Record<string, unknown> {
  const json: Record<string, unknown> = JSON.parse(JSON.stringify(base));
  for (const e of edits) {
    if (e.value === undefined) delete json[e.key];
    else if (e.key === 'ssm_cfg' && typeof json.ssm_cfg === 'object' && json.ssm_cfg !== null && typeof e.value !== 'object') {
      (json.ssm_cfg as Record<string, unknown>).d_state = e.value; // nested field edit
    } else Object.defineProperty(json, e.key, { value: e.value, enumerable: true, writable: true, configurable: true });
  }
  return json;
}

describe('config.json fuzz', () => {
  it('arbitrary JSON documents: typed errors only', () => {
    const tally = new Tally();
    fc.assert(fc.property(fc.jsonValue(), (j) => void typedOnly(() => configFromHfJson(j, 'config.json'), JSON.stringify(j)?.length ?? 0, { ms: 500 }, tally)), fcOptions(300));
    expect(tally.count('E_CONFIG')).toBeGreaterThan(0);
  });

  it('hostile values, missing and extra keys in real configurations', () => {
    const tally = new Tally();
    fc.assert(
      fc.property(baseConfigs, fc.array(configEdit, { minLength: 1, maxLength: 4 }), (base, edits) => {
        const json = edited(base, edits);
        typedOnly(() => configFromHfJson(json, 'config.json'), JSON.stringify(json).length, { ms: 500 }, tally);
      }),
      fcOptions(600),
    );
    tally.expectCoverage(2);
    expect(tally.count('E_UNSUPPORTED')).toBeGreaterThan(0);
  });

  it('mutated config.json text read from disk', () => {
    const tally = new Tally();
    const tokens = ['{', '}', '[', ']', '"', ':', ',', 'null', 'true', '1e400', '-', '\\', '\u0000', '"d_model"', '"hidden_size"'];
    fc.assert(
      fc.property(baseConfigs, fc.array(textMutation(tokens), { maxLength: 4 }), (base, ms) => {
        const text = mutateText(JSON.stringify(base, null, 2), ms);
        const path = join(dir, `config-${serial++}.json`);
        writeFileSync(path, text);
        typedOnly(() => readHfConfig(path), text.length, { ms: 500 }, tally);
      }),
      fcOptions(300),
    );
    tally.expectCoverage(1);
  });
});

describe('model fuzz (loadCheckpoint + buildMambaGraph)', () => {
  const load = (path: string) => buildMambaGraph(loadCheckpoint(path), { mode: 'decode' });
  const LIMITS = { ms: 2000 };

  it('HF folders: mutated model.safetensors with edited config.json (the trained fixture)', () => {
    const weights = new Uint8Array(readFileSync(join(fixture, 'model.safetensors')));
    const headerEnd = 8 + Number(new DataView(weights.buffer).getBigUint64(0, true));
    const tally = new Tally();
    fc.assert(
      fc.property(fc.array(byteMutation, { maxLength: 4 }), fc.boolean(), fc.array(configEdit, { maxLength: 2 }), (ms, headerOnly, edits) => {
        const d = fresh();
        const w = mutateBytes(weights, ms, headerOnly ? headerEnd : undefined);
        const cfg = JSON.stringify(edited(fixtureConfig, edits));
        mkdirSync(d);
        writeFileSync(join(d, 'model.safetensors'), w);
        writeFileSync(join(d, 'config.json'), cfg);
        typedOnly(() => load(d), w.length + cfg.length, LIMITS, tally);
      }),
      fcOptions(40),
    );
    tally.expectCoverage(2);
  });

  it('HF folders of random tiny models, both conventions, mutated config and weights', () => {
    const tally = new Tally();
    fc.assert(
      fc.property(arbConfig, fc.nat(), fc.constantFrom('hf-transformers' as const, 'hf-mamba-ssm' as const), fc.array(byteMutation, { maxLength: 3 }), fc.array(configEdit, { maxLength: 2 }), (c, s, naming, ms, edits) => {
        const d = fresh();
        writeHfFolder(randomCheckpoint(c, s), d, { naming });
        const w = mutateBytes(new Uint8Array(readFileSync(join(d, 'model.safetensors'))), ms);
        writeFileSync(join(d, 'model.safetensors'), w);
        const cfg = JSON.stringify(edited(JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')), edits));
        writeFileSync(join(d, 'config.json'), cfg);
        typedOnly(() => load(d), w.length + cfg.length, LIMITS, tally);
      }),
      fcOptions(150),
    );
    tally.expectCoverage(2);
  });

  it('sharded HF folders: edited model.safetensors.index.json (shard names, paths, missing entries)', () => {
    const tally = new Tally();
    const shardName = fc.constantFrom<unknown>('model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', '../x.safetensors', '/etc/passwd', '', '.', '..', 'nope.safetensors', 'config.json', 3, null, ['a'], {});
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('set', 'delete', 'add'), shardName), { maxLength: 3 }),
        fc.option(fc.constantFrom<unknown>(null, [], {}, 'x', { weight_map: [] }, { weight_map: {} }), { nil: undefined }),
        fc.array(byteMutation, { maxLength: 2 }),
        (s, edits, replaceAll, ms) => {
          const d = fresh();
          const c = { dModel: 8, nLayer: 2, vocabSize: 16, dState: 2, dConv: 2, expand: 2, dInner: 16, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false };
          writeHfFolder(randomCheckpoint(c, s), d, { shardBytes: 2048 });
          const indexPath = join(d, 'model.safetensors.index.json');
          const index = JSON.parse(readFileSync(indexPath, 'utf8'));
          const names = Object.keys(index.weight_map);
          for (const [i, op, v] of edits) {
            const name = names[i % names.length];
            if (op === 'delete') delete index.weight_map[name];
            else if (op === 'add') index.weight_map[`extra.${i}`] = v;
            else index.weight_map[name] = v;
          }
          const text = JSON.stringify(replaceAll ?? index);
          writeFileSync(indexPath, new TextDecoder().decode(mutateBytes(new TextEncoder().encode(text), ms)));
          typedOnly(() => load(d), text.length, LIMITS, tally);
        },
      ),
      fcOptions(80),
    );
    tally.expectCoverage(2);
  });

  it('GGUF models: hostile metadata values and types (tokenizer keys included), mutated bytes; graph and tokenizer', () => {
    const tally = new Tally();
    const valueArb: fc.Arbitrary<GgufValue | undefined> = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(0, 1, 2 ** 20, 2 ** 31, 0xffffffff).map((v) => gguf.u32(v)),
      fc.constantFrom(0n, 2n ** 53n, 2n ** 63n - 1n).map((v) => gguf.i64(v)),
      fc.constantFrom(0, -1, 1, 1e-5, Number.NaN, Infinity).map((v) => gguf.f32(v)),
      fc.constantFrom('mamba', 'mamba2', 'llama', '').map((v) => gguf.str(v)),
      fc.boolean().map((v) => gguf.bool(v)),
      fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }).map((v) => gguf.arr('string', v)),
    );
    fc.assert(
      fc.property(
        arbConfig.map((c) => ({ ...c, expand: 2, dInner: 2 * c.dModel, projBias: false, convBias: true })),
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), valueArb), { maxLength: 3 }),
        fc.array(byteMutation, { maxLength: 2 }),
        (c, s, edits, ms) => {
          const { metadata, tensors } = ggufMambaContents(randomCheckpoint({ ...c, vocabSize: 256 }, s), { fileType: 'f32' });
          const meta = [...metadata];
          for (const [i, v] of edits) {
            const k = i % meta.length;
            if (v === undefined) meta.splice(k, 1);
            else meta[k] = [meta[k][0], v];
          }
          const bytes = mutateBytes(writeGguf({ metadata: meta, tensors }), ms, 2048);
          const path = join(dir, `g${serial++}.gguf`);
          writeFileSync(path, bytes);
          typedOnly(() => {
            // What `ssmc run` does with the file: the graph, then the embedded vocabulary.
            const ck = loadCheckpoint(path);
            buildMambaGraph(ck, { mode: 'decode' });
            const tok = tokenizerFor(ck);
            tok.decode(tok.encode('To be, or not to be'));
          }, bytes.length, LIMITS, tally);
        },
      ),
      fcOptions(150),
    );
    tally.expectCoverage(2);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fileSource, memorySource } from '../../src/frontend/bytes.ts';
import { expectedTensors } from '../../src/frontend/checkpoint.ts';
import { gguf, openGguf, writeGguf, type GgufValue } from '../../src/frontend/gguf.ts';
import {
  byteLevelVocab, ggufMambaBytes, ggufMambaContents, gpt2ByteToUnicode, loadGgufMamba, vocabFromHfTokenizer, writeGgufMamba,
} from '../../src/frontend/gguf-mamba.ts';
import { loadHfFolder } from '../../src/frontend/hf-import.ts';
import type { RawTensor } from '../../src/frontend/raw-tensor.ts';
import { materialize } from '../../src/frontend/safetensors.ts';
import { decodeF16Array } from '../../src/util/half.ts';
import { expectError, expectSameTensors, FC_SEED, randomCheckpoint, SHAKESPEARE, smallConfig, snapshot, tmpDir } from './_helpers.ts';

function metaValue(m: ReadonlyMap<string, GgufValue>, key: string): unknown {
  return m.get(key)?.value;
}

describe('writeGgufMamba / loadGgufMamba', () => {
  it('fixture: HF -> GGUF (f32) -> canonical is identical tensor for tensor', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const path = join(tmpDir(), 'm.gguf');
    writeGgufMamba(ck, path, { fileType: 'f32', name: 'shakespeare' });
    const before = snapshot(path);
    const back = loadGgufMamba(path);
    expect(snapshot(path)).toEqual(before);
    expect(back.format).toBe('gguf');
    expect(back.config).toEqual(ck.config); // eps comes back as 1e-5, not its f32
    expectSameTensors(ck, back);
  });

  it('writes the metadata llama.cpp reads, with the converter\'s types and values', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const f = openGguf(memorySource(ggufMambaBytes(ck, { fileType: 'f32' })));
    const m = f.metadata;
    expect(f.version).toBe(3);
    expect([...m.keys()][0]).toBe('general.architecture');
    const u32 = (k: string, v: number) => expect(m.get(k), k).toEqual({ type: 'u32', value: v });
    expect(m.get('general.architecture')).toEqual({ type: 'string', value: 'mamba' });
    u32('mamba.context_length', 1 << 20);
    u32('mamba.embedding_length', 128);
    u32('mamba.feed_forward_length', 0);
    u32('mamba.attention.head_count', 0);
    u32('mamba.block_count', 4);
    u32('mamba.ssm.conv_kernel', 4);
    u32('mamba.ssm.inner_size', 256);
    u32('mamba.ssm.state_size', 16);
    u32('mamba.ssm.time_step_rank', 8);
    u32('general.file_type', 0);
    expect(m.get('mamba.attention.layer_norm_rms_epsilon')).toEqual({ type: 'f32', value: Math.fround(1e-5) });
    expect(m.get('mamba.ssm.dt_b_c_rms')).toEqual({ type: 'bool', value: false });
    expect(metaValue(m, 'tokenizer.ggml.model')).toBe('gpt2');
    expect(metaValue(m, 'tokenizer.ggml.pre')).toBe('default');
    const tokens = metaValue(m, 'tokenizer.ggml.tokens') as string[];
    expect(tokens).toEqual(gpt2ByteToUnicode());
    expect(m.get('tokenizer.ggml.merges')).toEqual({ type: 'array', itemType: 'string', value: [] });
    expect((m.get('tokenizer.ggml.token_type') as { itemType: string }).itemType).toBe('i32');
    // tensors: names and GGUF shapes (ne = row-major reversed)
    expect(f.tensors.has('output.weight')).toBe(false);
    expect(f.tensors.get('token_embd.weight')!.shape).toEqual([256, 128]);
    expect(f.tensors.get('blk.0.ssm_conv1d.weight')!.shape).toEqual([256, 4]); // ne [k, e] = [4, 256]
    expect(f.tensors.get('blk.0.ssm_a')!.shape).toEqual([256, 16]); // ne [d_state, d_inner]
    expect(f.tensors.get('blk.0.ssm_d')!.shape).toEqual([256]);
    expect(f.tensors.get('blk.0.ssm_x.weight')!.shape).toEqual([40, 256]); // ne [d_inner, r+2s]
    expect(f.tensors.get('blk.0.ssm_dt.weight')!.shape).toEqual([256, 8]); // ne [dt_rank, d_inner]
    expect(f.tensors.get('blk.3.ssm_out.weight')!.shape).toEqual([128, 256]); // ne [d_inner, d]
    expect(f.tensors.get('blk.3.ssm_in.weight')!.shape).toEqual([512, 128]); // ne [d, 2e]
    expect(f.tensors.size).toBe(2 + 4 * 10);
    // ssm_a is A itself (already -exp(A_log))
    expect(f.read('blk.2.ssm_a').data).toEqual(ck.tensors.get('l2.A')!.data);
  });

  it('f16 file type: F16 exactly where convert_hf_to_gguf.py puts it', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const path = join(tmpDir(), 'h.gguf');
    writeGgufMamba(ck, path, { fileType: 'f16' });
    const f = openGguf(fileSource(path));
    expect(metaValue(f.metadata, 'general.file_type')).toBe(1);
    const want: Record<string, string> = {
      'token_embd.weight': 'f16', 'output_norm.weight': 'f32',
      'blk.0.attn_norm.weight': 'f32', 'blk.0.ssm_in.weight': 'f16', 'blk.0.ssm_conv1d.weight': 'f32', 'blk.0.ssm_conv1d.bias': 'f32',
      'blk.0.ssm_x.weight': 'f16', 'blk.0.ssm_dt.weight': 'f16', 'blk.0.ssm_dt.bias': 'f32', 'blk.0.ssm_a': 'f32', 'blk.0.ssm_d': 'f32',
      'blk.0.ssm_out.weight': 'f16',
    };
    for (const [name, dtype] of Object.entries(want)) expect(f.tensors.get(name)!.dtype, name).toBe(dtype);
    const back = loadGgufMamba(path);
    const emb = ck.tensors.get('embedding')!.data as Float32Array;
    const emb16 = decodeF16Array(back.tensors.get('embedding')!.data as Uint16Array);
    for (let i = 0; i < emb.length; i += 97) expect(Math.abs(emb16[i] - emb[i])).toBeLessThanOrEqual(Math.abs(emb[i]) * 2 ** -11 + 2 ** -25);
    expect(back.tensors.get('l0.A')!.data).toEqual(ck.tensors.get('l0.A')!.data);
  });

  it('an untied head is written as output.weight and read back as lm_head', () => {
    fc.assert(
      fc.property(smallConfig, fc.integer({ min: 0, max: 1e9 }), (c, seed) => {
        const ck = randomCheckpoint(c, seed);
        const path = join(tmpDir(), 'r.gguf');
        writeGgufMamba(ck, path, { fileType: 'f32' });
        const back = loadGgufMamba(path);
        // llama.cpp always has a conv bias: a bias-free model gets zeros.
        expect(back.config).toEqual({ ...c, convBias: true });
        const want = new Map(ck.tensors);
        if (!c.convBias) for (let i = 0; i < c.nLayer; i++) want.set(`l${i}.conv.bias`, { dtype: 'f32', shape: [c.dInner], data: new Float32Array(c.dInner) });
        expectSameTensors({ ...ck, tensors: want }, back);
        expect(back.tensors.has('lm_head')).toBe(!c.tiedHead);
      }),
      { seed: FC_SEED, numRuns: 25 },
    );
  });

  it('carries the vocabulary through load and re-export', () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const path = join(tmpDir(), 'v.gguf');
    writeGgufMamba(ck, path, { fileType: 'f32' });
    const back = loadGgufMamba(path);
    expect(back.tokenizer).toMatchObject({ kind: 'gguf', model: 'gpt2', merges: [], bos: 0, eos: 0 });
    const again = openGguf(memorySource(ggufMambaBytes(back, { fileType: 'f32' })));
    expect(metaValue(again.metadata, 'tokenizer.ggml.tokens')).toEqual(gpt2ByteToUnicode());
  });

  it('refuses what llama.cpp cannot load', () => {
    const ck = randomCheckpoint({ dModel: 4, nLayer: 1, vocabSize: 10, dState: 2, dConv: 2, expand: 3, dInner: 12, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false }, 1);
    expectError(() => ggufMambaContents(ck, { fileType: 'f32' }), 'E_UNSUPPORTED', 'd_inner');
    const ck2 = randomCheckpoint({ dModel: 4, nLayer: 1, vocabSize: 10, dState: 2, dConv: 2, expand: 2, dInner: 8, dtRank: 1, normEps: 1e-5, tiedHead: true, convBias: true, projBias: true }, 1);
    expectError(() => ggufMambaContents(ck2, { fileType: 'f32' }), 'E_UNSUPPORTED', 'bias');
    const ck3 = randomCheckpoint({ ...ck2.config, projBias: false }, 1);
    expectError(() => ggufMambaContents(ck3, { fileType: 'f32', tokenizer: { kind: 'gguf', model: 'gpt2', tokens: ['a', 'b'] } }), 'E_TOKENS', '2 tokens', '10 rows');
    expectError(() => ggufMambaContents(ck3, { fileType: 'f32', tokenizer: { kind: 'gguf', model: 'gpt2', tokens: Array(10).fill('x') } }), 'E_TOKENS', 'repeated');
  });
});

describe('loadGgufMamba rejects bad files', () => {
  const base = () => {
    const ck = loadHfFolder(SHAKESPEARE);
    const { metadata, tensors } = ggufMambaContents(ck, { fileType: 'f32' });
    return { metadata, tensors: tensors.map(([n, t]) => [n, materialize(n, t)] as [string, RawTensor]) };
  };
  const write = (metadata: Array<[string, GgufValue]>, tensors: Array<[string, RawTensor]>): string => {
    const path = join(tmpDir(), 'bad.gguf');
    writeFileSync(path, writeGguf({ metadata, tensors }));
    return path;
  };

  it('wrong architecture: E_UNSUPPORTED naming general.architecture', () => {
    const { metadata, tensors } = base();
    const m = metadata.map(([k, v]) => [k, k === 'general.architecture' ? gguf.str('llama') : v] as [string, GgufValue]);
    const path = write(m, tensors);
    const err = expectError(() => loadGgufMamba(path), 'E_UNSUPPORTED', 'general.architecture', '"llama"');
    expect(err.location?.file).toBe(path);
  });

  it('missing tensor: E_MISSING_TENSOR naming it', () => {
    const { metadata, tensors } = base();
    const path = write(metadata, tensors.filter(([n]) => n !== 'blk.2.ssm_dt.bias'));
    expectError(() => loadGgufMamba(path), 'E_MISSING_TENSOR', 'blk.2.ssm_dt.bias');
  });

  it('wrong shape: E_TENSOR_SHAPE naming tensor and shapes', () => {
    const { metadata, tensors } = base();
    const t = tensors.map(([n, v]) => [n, n === 'blk.1.ssm_conv1d.weight' ? { ...v, shape: [4, 256] } : v] as [string, RawTensor]);
    expectError(() => loadGgufMamba(write(metadata, t)), 'E_TENSOR_SHAPE', 'blk.1.ssm_conv1d.weight', '[4, 256]', '[256, 4]');
  });

  it('extra tensors: E_TENSOR_SHAPE', () => {
    const { metadata, tensors } = base();
    const path = write(metadata, [...tensors, ['blk.0.ffn_up.weight', { dtype: 'f32', shape: [2], data: new Float32Array(2) }]]);
    expectError(() => loadGgufMamba(path), 'E_TENSOR_SHAPE', 'blk.0.ffn_up.weight');
  });

  it('missing or bad metadata: E_CONFIG naming the key', () => {
    const { metadata, tensors } = base();
    expectError(() => loadGgufMamba(write(metadata.filter(([k]) => k !== 'mamba.ssm.state_size'), tensors)), 'E_CONFIG', 'mamba.ssm.state_size');
    const m = metadata.map(([k, v]) => [k, k === 'mamba.block_count' ? gguf.u32(5) : v] as [string, GgufValue]);
    expectError(() => loadGgufMamba(write(m, tensors)), 'E_MISSING_TENSOR', 'blk.4');
  });

  it('ill-typed tokenizer data: E_TOKENS', () => {
    const { metadata, tensors } = base();
    const m = metadata.map(([k, v]) => [k, k === 'tokenizer.ggml.tokens' ? gguf.arr('u32', [1, 2]) : v] as [string, GgufValue]);
    expectError(() => loadGgufMamba(write(m, tensors)), 'E_TOKENS', 'tokenizer.ggml.tokens');
  });

  it('not a GGUF file / missing file', () => {
    const p = join(tmpDir(), 'x.gguf');
    writeFileSync(p, 'hello world, not gguf');
    expectError(() => loadGgufMamba(p), 'E_MAGIC');
    expectError(() => loadGgufMamba(join(tmpDir(), 'none.gguf')), 'E_IO');
  });
});

describe('vocabularies', () => {
  it('GPT-2 byte-to-unicode is a bijection onto 256 printable characters', () => {
    const t = gpt2ByteToUnicode();
    expect(new Set(t).size).toBe(256);
    expect(t[0x41]).toBe('A');
    expect(t[0x20]).toBe('Ġ');
    expect(t[0x0a]).toBe('Ċ');
    for (const s of t) expect(/\s/.test(s)).toBe(false);
  });

  it('byte-level vocab of the 130m size: 50280 distinct tokens, fillers UNUSED', () => {
    const v = byteLevelVocab(50280);
    expect(v.tokens.length).toBe(50280);
    expect(new Set(v.tokens).size).toBe(50280);
    expect(v.tokens[300]).toBe('[PAD300]');
    expect(v.tokenTypes![300]).toBe(5);
    expect(v.tokenTypes![65]).toBe(1);
    expect(v.merges).toEqual([]);
  });

  it('converts a BPE tokenizer.json, padding to the embedding rows', () => {
    const dir = tmpDir();
    const p = join(dir, 'tokenizer.json');
    writeFileSync(p, JSON.stringify({
      added_tokens: [{ id: 0, content: '<|endoftext|>', special: true }],
      model: { type: 'BPE', vocab: { '<|endoftext|>': 0, a: 1, b: 2, ab: 3 }, merges: ['a b'] },
    }));
    const v = vocabFromHfTokenizer(p, 6);
    expect(v.tokens).toEqual(['<|endoftext|>', 'a', 'b', 'ab', '[PAD4]', '[PAD5]']);
    expect(v.tokenTypes).toEqual([3, 1, 1, 1, 5, 5]);
    expect(v.merges).toEqual(['a b']);
    expect(v.eos).toBe(0);
    expectError(() => vocabFromHfTokenizer(p, 3), 'E_TOKENS', 'id 3');
    writeFileSync(p, JSON.stringify({ model: { type: 'Unigram', vocab: [] } }));
    expectError(() => vocabFromHfTokenizer(p, 3), 'E_TOKENS', 'BPE');
    expect(readFileSync(p, 'utf8')).toContain('Unigram');
  });

  it('every synthesized file has as many tokens as embedding rows', () => {
    fc.assert(
      fc.property(smallConfig, (c) => {
        const ck = randomCheckpoint(c, 7);
        const { metadata } = ggufMambaContents(ck, { fileType: 'f32' });
        const toks = metadata.find(([k]) => k === 'tokenizer.ggml.tokens')![1].value as string[];
        expect(toks.length).toBe(c.vocabSize);
        expect(new Set(toks).size).toBe(c.vocabSize);
        expect(expectedTensors(c)[0][1][0]).toBe(c.vocabSize);
      }),
      { seed: FC_SEED, numRuns: 50 },
    );
  });
});

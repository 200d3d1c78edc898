// The IR text format: canonical printing, parsing, round trips and located errors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeGraph, type Graph } from '../../src/ir/graph.ts';
import { interpret } from '../../src/ir/interpreter.ts';
import { graphDiff, graphEqual, parseGraph, printAttrValue, printGraph, printNumber, printType } from '../../src/ir/text/index.ts';
import { numel, tensorType, typeEqual } from '../../src/ir/types.ts';
import { WeightStore } from '../../src/ir/weights.ts';
import { arbAttrs, arbGraph, arbGraphWithInputs, arbTensorType, GRAPH_STEP_KINDS } from '../../src/testing/arbitraries.ts';
import { seed } from '../helpers/paths.ts';
import { thrown } from '../helpers/errors.ts';


describe('round trips on generated graphs', () => {
  it('parse(print(g)) equals g, and printing it again gives the same bytes', () => {
    fc.assert(
      fc.property(arbGraph(), (g) => {
        const text = printGraph(g);
        const back = parseGraph(text).graph;
        expect(graphDiff(back, g)).toBeUndefined();
        expect(printGraph(back)).toBe(text);
        // With the data supplied, the verifier also checks every weight has it.
        expect(graphEqual(parseGraph(text, { weights: g.weightData }).graph, g)).toBe(true);
      }),
      { numRuns: 200, seed },
    );
  });

  it('every type prints and parses back, annotations included', () => {
    fc.assert(
      fc.property(arbTensorType(), (t) => {
        const text = `graph @t {\n  input %x : ${printType(t)}\n  return %x\n}\n`;
        const g = parseGraph(text).graph;
        expect(typeEqual(g.inputs[0].type, t)).toBe(true);
        expect(printGraph(g)).toBe(text);
      }),
      { numRuns: 300, seed },
    );
  });

  it('every attribute value prints and parses back (NaN, -0, escapes, nesting)', () => {
    fc.assert(
      fc.property(arbAttrs(6), (attrs) => {
        const g = makeGraph({ name: 'a', attrs, inputs: [], weights: [], nodes: [], outputs: [], weightData: new WeightStore() });
        expect(graphDiff(parseGraph(printGraph(g)).graph, g)).toBeUndefined();
      }),
      { numRuns: 300, seed },
    );
  });
});

describe('the generators', () => {
  it('draw every op kind, in small graphs that the interpreter runs', () => {
    const ops = new Set<string>();
    const samples = fc.sample(arbGraphWithInputs(), { numRuns: 150, seed });
    for (const { graph, inputs } of samples) {
      expect(graph.nodes.length).toBeLessThanOrEqual(12);
      for (const n of graph.nodes) {
        ops.add(n.op);
        for (const m of n.body?.nodes ?? []) ops.add(m.op);
      }
      const out = interpret(graph, inputs);
      expect(Object.keys(out).sort()).toEqual([...new Set(graph.outputs)].sort());
    }
    const expected = ['nn.embedding', 'nn.linear', 'nn.rms_norm', 'ew.silu', 'ew.softplus', 'ew.exp', 'ew.neg', 'ew.add', 'ew.sub', 'ew.mul'];
    expected.push('tensor.split', 'ssm.conv1d_step', 'ssm.conv1d', 'ssm.scan_step', 'ssm.scan', 'fused.group');
    expect([...ops].sort()).toEqual(expected.sort());
    const weightTypes = samples.flatMap((s) => s.graph.weights.map((w) => w.type));
    for (const dtype of ['f32', 'f16', 'bf16', 'i32']) expect(weightTypes.some((t) => t.dtype === dtype)).toBe(true);
    expect(weightTypes.some((t) => t.cn4) && weightTypes.some((t) => t.perm) && weightTypes.some((t) => t.memory)).toBe(true);
  });

  it('keep to the requested node kinds', () => {
    for (const g of fc.sample(arbGraph({ kinds: ['unary'], maxNodes: 3 }), { numRuns: 20, seed })) {
      expect(g.nodes.length).toBeLessThanOrEqual(3);
      expect(g.nodes.every((n) => n.op.startsWith('ew.'))).toBe(true);
    }
    expect(GRAPH_STEP_KINDS).toContain('fused');
  });
});

describe('canonical printing', () => {
  it('run-length encodes cn4 and compresses perm into ascending runs', () => {
    const perm = [...range(0, 100), ...range(200, 512), ...range(100, 200), 5];
    expect(printType(tensorType('f32', [perm.length, 8], { perm }))).toBe(`f32[${perm.length},8]<perm=[0..99,200..511,100..199,5]>`);
    expect(printType(tensorType('f32', [512, 128], { cn4: [...Array(300).fill(2), ...Array(212).fill(3)] }))).toBe('f32[512,128]<cn4=[2x300,3x212]>');
    expect(printType(tensorType('f16', [3, 4], { cn4: [1, 2, 1] }))).toBe('f16[3,4]<cn4=[1x1,2x1,1x1]>');
    expect(printType(tensorType('f32', [4], { perm: [1, 0, 2, 3] }))).toBe('f32[4]<perm=[1,0,2..3]>');
    expect(printType(tensorType('f32', [2], { perm: [1, 0] }))).toBe('f32[2]<perm=[1,0]>');
    expect(printType(tensorType('f32', [0, 4], { cn4: [], perm: [] }))).toBe('f32[0,4]<cn4=[]; perm=[]>');
    expect(printType(tensorType('bf16', [2, 4], { perm: [0, 1], cn4: [4, 4], memory: 'image2d' }))).toBe('bf16[2,4]<memory=image2d; cn4=[4x2]; perm=[0..1]>');
    expect(printType(tensorType('i32', []))).toBe('i32[]');
  });

  it('accepts free spacing, bare cn4 counts, annotations in any order', () => {
    const text = `graph @t { input %x : f32 [ 3 , 4 ] < perm = [ 2 , 0..1 ] ; cn4 = [ 1 , 2x2 ] ; memory = buffer > return %x }`;
    expect(parseGraph(text).graph.inputs[0].type).toEqual({ dtype: 'f32', shape: [3, 4], perm: [2, 0, 1], cn4: [1, 2, 2], memory: 'buffer' });
  });

  it('prints numbers in their shortest round-trip form', () => {
    const cases: [number, string][] = [[0, '0'], [-0, '-0'], [42, '42'], [-7, '-7'], [0.1, '0.1'], [1e-5, '0.00001'], [1e-7, '1e-7'], [1e21, '1e+21'], [5e-324, '5e-324'], [NaN, 'nan'], [Infinity, 'inf'], [-Infinity, '-inf']];
    for (const [v, s] of cases) {
      expect(printNumber(v)).toBe(s);
      const g = parseGraph(`graph @n {v = ${s}} {\n  return\n}\n`).graph;
      expect(Object.is(g.attrs.v, v)).toBe(true);
    }
    expect(printAttrValue(['a"b\n', [true, false], []])).toBe('["a\\"b\\n", [true, false], []]');
  });

  it('quotes keys that are not identifiers and keeps insertion order', () => {
    const g = makeGraph({ name: 'k', attrs: Object.fromEntries([['z', 1], ['a b', 2], ['__proto__', 3], ['', 4]]), inputs: [], weights: [], nodes: [], outputs: [], weightData: new WeightStore() });
    const text = printGraph(g);
    expect(text).toBe('graph @k {z = 1, "a b" = 2, __proto__ = 3, "" = 4} {\n  return\n}\n');
    expect(Object.keys(parseGraph(text).graph.attrs)).toEqual(['z', 'a b', '__proto__', '']);
  });
});

// A one-layer Mamba decode step (d=4, e=8, s=2, dt_rank=1, k=4, vocab 6), written by
// hand with comments, blank lines and non-canonical spacing and numbers.
const TINY = `// tiny model
graph @tiny {mode = "decode", d_model = 4, n_layer = 1} {
  input %token : i32[]
  input %conv.0 : f32[8,4]
  input %ssm.0 : f32[8,2]

  weight @embedding : f32[6,4]
  weight @l0.norm : f32[4]
  weight @l0.in_proj : f32[16,4]<cn4=[2x16]>
  weight @l0.conv.w : f32[8,4]
  weight @l0.conv.b : f32[8]
  weight @l0.x_proj : f32[5,8]     // dt_rank + 2 * d_state rows
  weight @l0.dt_proj.w : f32[8,1]
  weight @l0.dt_proj.b : f32[8]
  weight @l0.A : f32[8,2]
  weight @l0.D : f32[8]
  weight @l0.out_proj : f32[4,8]<memory=image2d>
  weight @norm_f : f32[4]

  %h = nn.embedding(@embedding, %token) : f32[4]
  %hn = nn.rms_norm(%h, @l0.norm) {eps = 1e-5} : f32[4]
  %xz = nn.linear(%hn, @l0.in_proj) : f32[16]
  %x, %z = tensor.split(%xz) {sizes = [8, 8]} : f32[8], f32[8]
  %xc, %conv.0.next = ssm.conv1d_step(%conv.0, %x, @l0.conv.w, @l0.conv.b)
      : f32[8], f32[8,4]
  %xs = ew.silu(%xc) : f32[8]
  %dbc = nn.linear(%xs, @l0.x_proj) : f32[5]
  %dt0, %B, %C = tensor.split(%dbc) {sizes = [1, 2, 2]} : f32[1], f32[2], f32[2]
  %dt1 = nn.linear(%dt0, @l0.dt_proj.w, @l0.dt_proj.b) : f32[8]
  %dt = ew.softplus(%dt1) : f32[8]
  %y0, %ssm.0.next = ssm.scan_step(%ssm.0, %xs, %dt, @l0.A, %B, %C) : f32[8], f32[8,2]
  %y = fused.group(%y0, %xs, %z, @l0.D) {kernel = "gate"} : f32[8] {
    param %p.y : f32[8]
    param %p.x : f32[8]
    param %p.z : f32[8]
    param %p.D : f32[8]
    %dx = ew.mul(%p.D, %p.x) : f32[8]
    %y1 = ew.add(%p.y, %dx) : f32[8]
    %zs = ew.silu(%p.z) : f32[8]
    %g = ew.mul(%y1, %zs) : f32[8]
    yield %g
  }
  %o = nn.linear(%y, @l0.out_proj) : f32[4]
  %h1 = ew.add(%h, %o) : f32[4]
  %hf = nn.rms_norm(%h1, @norm_f) {eps = 0.00001} : f32[4]
  %logits = nn.linear(%hf, @embedding) : f32[6]   // tied head
  return %logits, %conv.0.next, %ssm.0.next
}
`;

/** TINY as the printer writes it: no comments or blank lines, one line per node, canonical numbers. */
const TINY_CANONICAL = TINY.split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('//'))
  .map((l) => l.replace(/\s+\/\/.*$/, '').replace('1e-5', '0.00001'))
  .join('\n')
  .replace(')\n      : f32[8], f32[8,4]', ') : f32[8], f32[8,4]')
  .concat('\n');

function tinyWeights(g: Graph): WeightStore {
  return new WeightStore(g.weights.map((w, i) => [w.name, Float32Array.from({ length: numel(w.type.shape) }, (_, j) => Math.sin(i * 31 + j) / 2)]));
}

describe('a hand-written tiny model', () => {
  const { graph: g, spans } = parseGraph(TINY, { file: 'tiny.ir' });

  it('has exactly the written structure', () => {
    expect(g.name).toBe('tiny');
    expect(g.attrs).toEqual({ mode: 'decode', d_model: 4, n_layer: 1 });
    expect(g.inputs.map((v) => [v.name, printType(v.type)])).toEqual([['token', 'i32[]'], ['conv.0', 'f32[8,4]'], ['ssm.0', 'f32[8,2]']]);
    expect(g.weights.map((w) => w.name)).toEqual(['embedding', 'l0.norm', 'l0.in_proj', 'l0.conv.w', 'l0.conv.b', 'l0.x_proj', 'l0.dt_proj.w', 'l0.dt_proj.b', 'l0.A', 'l0.D', 'l0.out_proj', 'norm_f']);
    expect(g.weights[2].type.cn4).toEqual(Array(16).fill(2));
    expect(g.weights[10].type.memory).toBe('image2d');
    expect(g.nodes.map((n) => n.op)).toEqual([
      'nn.embedding', 'nn.rms_norm', 'nn.linear', 'tensor.split', 'ssm.conv1d_step', 'ew.silu', 'nn.linear', 'tensor.split',
      'nn.linear', 'ew.softplus', 'ssm.scan_step', 'fused.group', 'nn.linear', 'ew.add', 'nn.rms_norm', 'nn.linear',
    ]);
    expect(g.nodes[1].attrs).toEqual({ eps: 1e-5 });
    expect(g.nodes[14].attrs).toEqual({ eps: 1e-5 });
    expect(g.nodes[7].outputs.map((v) => [v.name, printType(v.type)])).toEqual([['dt0', 'f32[1]'], ['B', 'f32[2]'], ['C', 'f32[2]']]);
    expect(g.nodes[10].inputs).toEqual(['ssm.0', 'xs', 'dt', 'l0.A', 'B', 'C']);
    const fused = g.nodes[11];
    expect(fused.inputs).toEqual(['y0', 'xs', 'z', 'l0.D']);
    expect(fused.attrs).toEqual({ kernel: 'gate' });
    expect(fused.body?.inputs.map((p) => p.name)).toEqual(['p.y', 'p.x', 'p.z', 'p.D']);
    expect(fused.body?.nodes.map((n) => n.op)).toEqual(['ew.mul', 'ew.add', 'ew.silu', 'ew.mul']);
    expect(fused.body?.outputs).toEqual(['g']);
    expect(g.outputs).toEqual(['logits', 'conv.0.next', 'ssm.0.next']);
    expect(g.weightData.size).toBe(0);
  });

  it('records where each node, value and region starts', () => {
    expect(spans.get(g.nodes[0])).toEqual({ line: 20, column: 3 });
    expect(spans.get(g.nodes[4])).toEqual({ line: 24, column: 3 });
    expect(spans.get(g.inputs[1])).toEqual({ line: 4, column: 3 });
    expect(spans.get(g.weights[5])).toEqual({ line: 12, column: 3 });
    expect(spans.get(g.nodes[11].body!.nodes[0])).toEqual({ line: 37, column: 5 });
    expect(spans.get(g.nodes[11].body!)).toEqual({ line: 41, column: 5 });
    expect(spans.get(g)).toEqual({ line: 47, column: 3 });
  });

  it('prints canonically', () => {
    expect(printGraph(g)).toBe(TINY_CANONICAL);
    expect(printGraph(parseGraph(TINY_CANONICAL).graph)).toBe(TINY_CANONICAL);
  });

  it('runs with weight data supplied, and reports a missing weight at its declaration', () => {
    const weights = tinyWeights(g);
    const withData = parseGraph(TINY, { weights }).graph;
    const out = interpret(withData, { token: [3], 'conv.0': new Float32Array(32), 'ssm.0': new Float32Array(16) });
    expect(out.logits.data).toHaveLength(6);
    expect(out.logits.data.every(Number.isFinite)).toBe(true);
    const e = thrown(() => parseGraph(TINY, { weights: weights.without('l0.A'), file: 'tiny.ir' }));
    expect(e.code).toBe('E_VERIFY');
    expect(e.location).toMatchObject({ file: 'tiny.ir', line: 15, column: 3 });
    expect(e.message).toContain('weight @l0.A has no data');
  });
});

describe('edge cases of the format', () => {
  it('round-trips zero-output nodes, empty returns, weight outputs and operands', () => {
    const text = [
      'graph @edge {',
      '  input %x : f32[2]',
      '  weight @w : f32[2]',
      '  fused.group(%x, @w) {',
      '    param %a : f32[2]',
      '    param %b : f32[2]',
      '    yield',
      '  }',
      '  %0 = ew.add(%x, @w) : f32[2]',
      '  return @w, %0, %x',
      '}',
      '',
    ].join('\n');
    // The format can write a node without results (so a broken pass result still
    // prints), but the verifier rejects it: ops are pure, such a node is dead.
    const g = parseGraph(text, { verify: false }).graph;
    expect(g.nodes[0].outputs).toEqual([]);
    expect(g.outputs).toEqual(['w', '0', 'x']);
    expect(printGraph(g)).toBe(text);
    const e = thrown(() => parseGraph(text));
    expect(e.code).toBe('E_VERIFY');
    expect(e.message).toContain('defines no values');
    expect(e.location?.line).toBe(4);
  });
});

describe('syntax errors', () => {
  const base = ['graph @g {', '  input %x : f32[4]', '  weight @w : f32[4]', '  %y = ew.add(%x, @w) : f32[4]', '  return %y', '}', ''];
  const edit = (line: number, from: string, to: string) => base.map((l, i) => (i === line - 1 ? l.replace(from, to) : l)).join('\n');
  // Each case: the text, and the line and the text at which the error is reported.
  const cases: [string, string, number, string, RegExp][] = [
    ['a missing comma', edit(4, '(%x, @w)', '(%x @w)'), 4, '@w)', /expected "\)" or ",", found "@w\)"/],
    ['an unknown dtype', edit(2, 'f32', 'f64'), 2, 'f64', /expected a dtype/],
    ['an unterminated list', edit(4, 'f32[4]', 'f32[4'), 5, 'return', /expected "\]" or ","/],
    ['an unterminated string', edit(1, '@g {', '@g {s = "abc} {'), 1, '"abc', /expected .*a string/],
    ['an input after a weight', [base[0], base[2], base[1], ...base.slice(3)].join('\n'), 3, 'input', /expected "return", an op kind such as nn.linear, "weight", or "<", found "input"/],
    ['a bad op kind', edit(4, 'ew.add', 'Add'), 4, 'Add', /expected an op kind/],
    ['text after the graph', `${base.join('\n')}junk`, 7, 'junk', /expected end of input/],
    ['@ for a non-weight', edit(4, '(%x', '(@x'), 4, '@x', /@x is not a declared weight/],
    ['% for a weight', edit(4, '@w)', '%w)'), 4, '%w', /%w is a weight; write @w/],
    ['results and types that differ in number', edit(4, ': f32[4]', ': f32[4], f32[4]'), 4, '%y', /1 results but 2 types/],
    ['a repeated attribute', edit(4, ') :', ') {a = 1, a = 2} :'), 4, 'a = 2', /attribute "a" is given twice/],
    ['a repeated annotation', edit(2, 'f32[4]', 'f32[4]<memory=buffer; memory=image2d>'), 2, 'memory=image2d', /annotation 'memory' is given twice/],
    ['a descending perm range', edit(3, 'f32[4]', 'f32[4]<perm=[3..0]>'), 3, '3..0', /range 3\.\.0 is descending/],
    ['a runaway cn4 count', edit(3, 'f32[4]', 'f32[4,4]<cn4=[2x99999999999]>'), 3, '2x9', /cn4 lists more than/],
  ];
  for (const [what, text, line, at, message] of cases) {
    it(`reports ${what} at the offending text`, () => {
      const column = text.split('\n')[line - 1].indexOf(at) + 1;
      expect(column).toBeGreaterThan(0);
      const e = thrown(() => parseGraph(text, { file: 'g.ir' }));
      expect(e.code).toBe('E_SYNTAX');
      expect(e.location).toEqual({ file: 'g.ir', line, column });
      expect(e.message).toMatch(message);
      expect(e.message.startsWith(`g.ir:${line}:${column}: `)).toBe(true);
    });
  }

  it('skips the verifier when asked', () => {
    const text = edit(4, ': f32[4]', ': f32[5]');
    expect(thrown(() => parseGraph(text)).code).toBe('E_VERIFY');
    expect(parseGraph(text, { verify: false }).graph.nodes[0].outputs[0].type.shape).toEqual([5]);
  });
});

describe('parsing speed', () => {
  it('parses a 5000-node graph in linear time', () => {
    const n = 5000;
    const lines = ['graph @big {', '  input %v0 : f32[16]', '  weight @w : f32[16]'];
    for (let i = 1; i <= n; i++) lines.push(`  %v${i} = ew.${i % 2 ? 'add' : 'mul'}(%v${i - 1}, @w) : f32[16]`);
    lines.push(`  return %v${n}`, '}', '');
    const text = lines.join('\n');
    const t0 = performance.now();
    const { graph } = parseGraph(text);
    const ms = performance.now() - t0;
    expect(graph.nodes).toHaveLength(n);
    // ohm-js takes about 1 s on a loaded 2-core machine; a quadratic step would take minutes.
    expect(ms).toBeLessThan(4000);
  });
});

function range(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo }, (_, i) => lo + i);
}

// The pass manager: verification after every pass (and who broke it), reproducers that
// parse back, timings, IR printing through a callback, analysis caching, services.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SsmcError } from '../../src/errors.ts';
import { GraphBuilder } from '../../src/ir/builder.ts';
import type { Graph } from '../../src/ir/graph.ts';
import { makeGraph } from '../../src/ir/graph.ts';
import { graphEqual, parseGraph, printGraph } from '../../src/ir/text/index.ts';
import { tensorType } from '../../src/ir/types.ts';
import type { PassDef } from '../../src/passes/index.ts';
import { definePass, PassError, PassManager, parsePipeline, parseReproducer, registerPass, unregisterPass } from '../../src/passes/index.ts';

function sample(): Graph {
  const b = new GraphBuilder('sample');
  const x = b.input('x', tensorType('f32', [4]));
  const w = b.weight('w', tensorType('f32', [3, 4]), Float32Array.from({ length: 12 }, (_, i) => (i % 5) - 2));
  const y = b.op1('nn.linear', [x, w], {}, 'y');
  const z = b.op1('ew.neg', [y], {}, 'z');
  b.output(b.op1('ew.silu', [z], {}, 'out'));
  return b.build();
}

let dir: string;
const temp: PassDef[] = [];
const reg = (p: PassDef) => {
  registerPass(p);
  temp.push(p);
};

/** Counts analysis computations across passes. */
let computed = 0;
const countNodes = (g: Graph) => {
  computed++;
  return g.nodes.length;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ssmc-pm-'));
  // Breaks the IR: drops the first node (its output stays in use).
  reg(definePass({ name: 'test-break-ir', description: 'drops the first node', run: (g) => makeGraph({ ...g, nodes: g.nodes.slice(1) }) }));
  reg(definePass({ name: 'test-throw', description: 'always fails', run: () => { throw new Error('boom'); } }));
  reg(definePass({ name: 'test-not-graph', description: 'returns nothing', run: () => undefined as unknown as Graph }));
  reg(definePass({ name: 'test-identity', description: 'returns its input', run: (g) => g }));
  reg(definePass({ name: 'test-copy', description: 'returns an equal new graph', run: (g) => makeGraph({ ...g }) }));
  reg(
    definePass({
      name: 'test-use-analysis',
      description: 'reads the node-count analysis',
      options: { preserve: { kind: 'bool', default: false }, copy: { kind: 'bool', default: false } },
      run(g, o, ctx) {
        ctx.analysis('node-count', countNodes);
        if (o.preserve) ctx.preserve('node-count');
        return o.copy ? makeGraph({ ...g }) : g;
      },
    }),
  );
  reg(
    definePass({
      name: 'test-preserving-copy',
      description: 'returns a new graph and declares every analysis preserved',
      preserves: 'all',
      run: (g) => makeGraph({ ...g }),
    }),
  );
  reg(
    definePass({
      name: 'test-service',
      description: 'scales nothing, but needs a cost model',
      run(g, _o, ctx) {
        ctx.service<{ bytes(g: Graph): number }>('costModel').bytes(g);
        return g;
      },
    }),
  );
  reg(
    definePass({
      name: 'test-progress',
      description: 'reports three steps of one stage',
      run(g, _o, ctx) {
        for (let i = 1; i <= 3; i++) ctx.progress('steps', i, 3);
        return g;
      },
    }),
  );
});

afterAll(() => {
  for (const p of temp) unregisterPass(p.name);
  rmSync(dir, { recursive: true, force: true });
});

function failure(f: () => unknown): PassError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PassError);
    return e as PassError;
  }
  throw new Error('expected a PassError');
}

describe('PassManager', () => {
  it('runs the pipeline, times each pass and reports through onPassEnd', () => {
    const ended: string[] = [];
    const pm = new PassManager(' cse , dce ', { onPassEnd: (name, ms) => { expect(ms).toBeGreaterThanOrEqual(0); ended.push(name); } });
    expect(pm.pipeline).toBe('cse,dce');
    expect(pm.passes).toEqual(['cse', 'dce']);
    const g = sample();
    const { graph, timings } = pm.run(g);
    expect(graph).toBe(g); // nothing to do: same object
    expect(timings.map((t) => t.pass)).toEqual(['cse', 'dce']);
    expect(ended).toEqual(['cse', 'dce']);
  });

  it('reports bad pipelines before running anything', () => {
    expect(() => new PassManager('dce,nope')).toThrow(/unknown pass 'nope'/);
    expect(() => new PassManager('dce', { printIrAfter: ['cse'], onIr: () => {} })).toThrow(/print-ir-after: pass 'cse' is not in the pipeline; its passes: dce/);
    expect(() => new PassManager('dce', { printIrAfter: 'all' })).toThrow(/onIr/);
  });

  it('hands the printed IR after the chosen passes to onIr', () => {
    const seen: Array<[string, string]> = [];
    const g = sample();
    new PassManager('test-copy,dce,cse', { printIrAfter: ['dce'], onIr: (p, t) => seen.push([p, t]) }).run(g);
    expect(seen.map(([p]) => p)).toEqual(['dce']);
    expect(seen[0][1]).toBe(printGraph(g));
    const all: string[] = [];
    new PassManager('test-copy,dce', { printIrAfter: 'all', onIr: (p) => all.push(p) }).run(g);
    expect(all).toEqual(['test-copy', 'dce']);
  });

  it('catches a pass that breaks the IR, names it and writes a reproducer that parses back', () => {
    const g = sample();
    const pm = new PassManager('dce,test-break-ir,cse{},dce', { reproducerDir: dir });
    const e = failure(() => pm.run(g));
    expect(e.code).toBe('E_VERIFY');
    expect(e.pass).toBe('test-break-ir');
    expect(e.step).toBe(1);
    expect(e.message).toMatch(/pass 'test-break-ir' produced an invalid graph:\n.*%y/);
    expect(e.reproducer).toBeDefined();
    expect(e.message).toContain(`reproducer: ${e.reproducer}`);
    expect(e.reproducer!).toMatch(/ssmc-reproducer-test-break-ir-\d{8}T\d{9}Z(-\d+)?\.ir$/);

    const text = readFileSync(e.reproducer!, 'utf8');
    expect(text.split('\n')[0]).toBe('// pipeline: test-break-ir,cse,dce');
    const { pipeline, ir } = parseReproducer(text);
    expect(parsePipeline(pipeline).map((s) => s.pass)).toEqual(['test-break-ir', 'cse', 'dce']);
    // The IR is the failing pass's input (here: dce's output, equal to g); the file as a
    // whole is IR text too (the header lines are comments). Weight data is not included.
    const back = parseGraph(ir, { file: e.reproducer, weights: g.weightData }).graph;
    expect(graphEqual(back, g)).toBe(true);
    expect(graphEqual(parseGraph(text, { weights: g.weightData }).graph, g)).toBe(true);
    // Re-running the reproducer's pipeline on it fails the same way.
    const again = failure(() => new PassManager(pipeline, { reproducerDir: false }).run(back));
    expect(again.pass).toBe('test-break-ir');
    expect(again.reproducer).toBeUndefined();
  });

  it('turns a throwing pass into E_PASS with the cause and a reproducer', () => {
    const e = failure(() => new PassManager('dce,test-throw', { reproducerDir: dir }).run(sample()));
    expect(e.code).toBe('E_PASS');
    expect(e).toBeInstanceOf(SsmcError);
    expect(e.message).toMatch(/^pass 'test-throw' failed: boom\nreproducer: /);
    expect((e.cause as Error).message).toBe('boom');
    expect(readFileSync(e.reproducer!, 'utf8')).toMatch(/^\/\/ pipeline: test-throw\n\/\/ error\[E_PASS\]: pass 'test-throw' failed: boom\n/);
    const e2 = failure(() => new PassManager('test-not-graph', { reproducerDir: false }).run(sample()));
    expect(e2.message).toMatch(/returned undefined instead of a graph/);
  });

  it('writes reproducers to the temp directory by default and says when it cannot write one', () => {
    const before = new Set(readdirSync(tmpdir()));
    const e = failure(() => new PassManager('test-throw').run(sample()));
    expect(e.reproducer!.startsWith(tmpdir())).toBe(true);
    expect(before.has(e.reproducer!.slice(tmpdir().length + 1))).toBe(false);
    rmSync(e.reproducer!);
    const blocked = join(dir, 'a-file');
    writeFileSync(blocked, '');
    const f = failure(() => new PassManager('test-throw', { reproducerDir: join(blocked, 'sub') }).run(sample()));
    expect(f.reproducer).toBeUndefined();
    expect(f.message).toMatch(/could not write a reproducer/);
  });

  it('verification can be turned off; an invalid input is reported before any pass', () => {
    const g = sample();
    expect(() => new PassManager('test-break-ir', { verify: false }).run(g)).not.toThrow();
    const broken = makeGraph({ ...g, nodes: g.nodes.slice(1) });
    const e = (() => {
      try {
        new PassManager('dce').run(broken);
      } catch (err) {
        return err as SsmcError;
      }
    })();
    expect(e?.code).toBe('E_VERIFY');
    expect(e?.message).toMatch(/input of the pipeline/);
    expect(e).not.toBeInstanceOf(PassError);
  });

  it('computes an analysis once and drops it when a pass changes the graph', () => {
    const run = (p: string) => {
      computed = 0;
      new PassManager(p).run(sample());
      return computed;
    };
    expect(run('test-use-analysis,test-use-analysis,test-identity,test-use-analysis')).toBe(1);
    expect(run('test-use-analysis,test-copy,test-use-analysis')).toBe(2);
    expect(run('test-use-analysis{copy=true},test-use-analysis')).toBe(2);
    expect(run('test-use-analysis{copy=true preserve=true},test-use-analysis')).toBe(1);
    expect(run('test-use-analysis,test-preserving-copy,test-use-analysis')).toBe(1);
    // dce and cse return their input when they change nothing, so analyses survive them.
    expect(run('test-use-analysis,dce,cse,test-use-analysis')).toBe(1);
    // Each run has its own cache.
    const pm = new PassManager('test-use-analysis');
    computed = 0;
    pm.run(sample());
    pm.run(sample());
    expect(computed).toBe(2);
  });

  it('passes services from the caller; a missing one is an error naming it', () => {
    let asked = 0;
    const costModel = { bytes: () => ++asked };
    new PassManager('test-service', { services: { costModel } }).run(sample());
    new PassManager('test-service').run(sample(), { services: { costModel } });
    expect(asked).toBe(2);
    const e = failure(() => new PassManager('test-service', { reproducerDir: false, services: { calib: 1 } }).run(sample()));
    expect(e.code).toBe('E_PASS');
    expect(e.message).toMatch(/pass 'test-service' needs the service 'costModel', which the caller did not provide \(provided: teacher, calib\)/);
  });

  it('forwards progress reports to the caller with the pass name (and runs silently without one)', () => {
    const seen: string[] = [];
    new PassManager('test-progress,test-progress', { onProgress: (pass, stage, d, t) => seen.push(`${pass}/${stage} ${d}/${t}`) }).run(sample());
    expect(seen).toEqual(['1/3', '2/3', '3/3', '1/3', '2/3', '3/3'].map((x) => `test-progress/steps ${x}`));
    expect(() => new PassManager('test-progress').run(sample())).not.toThrow();
  });

  it('runs structural passes on a graph from IR text (types only); a pass reading weight values names the weight', () => {
    const typesOnly = parseGraph(printGraph(sample())).graph;
    expect(new PassManager('cse,dce,fuse-ops').run(typesOnly).graph.weights.map((w) => w.name)).toEqual(['w']);
    const e = failure(() => new PassManager('sparsify-cn4{method=magnitude pattern=uniform n=2 layers=w}', { reproducerDir: false }).run(typesOnly));
    expect(e.message).toMatch(/\[E_MISSING_TENSOR\] no data for weight @w \(a graph read from IR text carries weight types/);
  });
});

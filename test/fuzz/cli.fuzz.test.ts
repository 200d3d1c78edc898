// CLI flags: argument vectors for every `ssmc` command, run in-process. The commands
// and their flags are read from the real program (so a new flag is fuzzed the day it
// is added); values mix sane ones (on a tiny model, so valid runs are cheap) with
// hostile ones (negative, huge, NaN, empty, wrong choices, missing files). A run may
// succeed (0), fail with a typed error (1) or a usage error (2): never an internal
// error, never past its time bound, never touching its inputs, never leaving a
// temporary file beside an output. C builds fail fast here (CC=false): the fuzz is
// about the flags, the backends have their own tests.
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram, main } from '../../src/cli/main.ts';
import { writeGgufMamba } from '../../src/frontend/gguf-mamba.ts';
import { writeHfFolder } from '../../src/frontend/hf-export.ts';
import { buildMambaGraph } from '../../src/frontend/mamba-graph.ts';
import { printGraph } from '../../src/ir/text/index.ts';
import { repoRoot } from '../helpers/paths.ts';
import { randomCheckpoint } from '../helpers/random-model.ts';
import { fcOptions, Tally, TIME_SCALE } from './harness.ts';

const root = mkdtempSync(join(tmpdir(), 'ssmc-fuzz-cli-'));
const inputs = join(root, 'inputs');
const model = join(inputs, 'model');
const gguf = join(inputs, 'model.gguf');
const irFile = join(inputs, 'model.ir');
const textFile = join(inputs, 'text.txt');
// The example module imports the library by a relative path: used where it is (and hashed).
const passModule = join(repoRoot, 'examples/custom-pass.ts');
const missing = join(root, 'no-such-file');

const env: Record<string, string | undefined> = {};
beforeAll(() => {
  mkdirSync(inputs);
  // Byte-level, every C_n^4-prunable width a multiple of 4, one layer: valid runs take milliseconds.
  const ck = randomCheckpoint({ dModel: 8, nLayer: 1, vocabSize: 256, dState: 4, dConv: 2, expand: 2, dInner: 16, dtRank: 4, normEps: 1e-5, tiedHead: true, convBias: true, projBias: false }, 11);
  writeHfFolder(ck, model);
  writeGgufMamba(ck, gguf, { fileType: 'f32' });
  writeFileSync(irFile, printGraph(buildMambaGraph(ck)));
  writeFileSync(textFile, 'First Citizen:\nBefore we proceed any further, hear me speak.\n');
  for (const k of ['CC', 'SSMC_CACHE']) env[k] = process.env[k];
  process.env.CC = 'false';
  process.env.SSMC_CACHE = join(root, 'cache');
});
afterAll(() => {
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(root, { recursive: true, force: true });
});

/** Hashes of every input file: they must never change. */
function fingerprint(): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(p).update(readFileSync(p));
    }
  };
  walk(inputs);
  h.update(readFileSync(passModule));
  return h.digest('hex');
}

const GOOD_INTS = ['1', '2', '3', '4', '16'];
const BAD_INTS = ['0', '-1', '1.5', '1e3', '1e400', 'NaN', 'abc', '', ' 2', '0x10', '99999999999999999999', '9007199254740993'];
const BAD_FLOATS = ['-0.1', '2', 'NaN', 'Infinity', '-Infinity', 'abc', '', '1e400'];
const MODELS = [model, model, gguf, irFile];
const BAD_MODELS = [textFile, missing, inputs, ''];

interface Values { readonly good: readonly string[]; readonly bad: readonly string[] }
const v = (good: readonly string[], bad: readonly string[]): Values => ({ good, bad });

/** Sane and hostile values for each long flag name (ints for the rest). */
function valuesFor(flag: string, command: string, out: string): Values {
  switch (flag) {
    case '--output': case '--out': return v([out, join(out, 'nested', 'deeper')], ['']);
    case '--text': case '--calib': return v([textFile], [missing, inputs, '']);
    case '--model': return v([], [missing, textFile, '']); // demo: never the full main job
    case '--pipeline': return v(['dce', 'cse,dce', 'sparsify-cn4{n=2 pattern=uniform method=magnitude}', 'fuse-ops'], ['bogus', '{', 'dce,', '', 'sparsify-cn4{n=9}']);
    case '--method': return v(['magnitude', 'wanda'], ['x', '']);
    case '--pattern': return v(['uniform', 'adaptive'], ['x']);
    case '--backend': return v(['interp', 'interp', 'c', 'opencl'], ['x', '']);
    case '--target': return v(['c', 'opencl'], ['x']);
    case '--device': return v(['adreno', 'mali', 'generic'], ['x']);
    case '--arch': return v(['host', 'aarch64'], ['x']);
    case '--dtype': return v(['f32', 'f16'], ['bf16', 'x']);
    case '--format': return command === 'ir' ? v(['text', 'dot'], ['x']) : command === 'synth' ? v(['hf', 'gguf'], ['x']) : v(['safetensors', 'gguf'], ['hf', 'x']);
    case '--mode': return v(['decode', 'prefill'], ['x']);
    case '--shape': return v(['tiny'], ['x', '']);
    case '--tokens': return command === 'logits' ? v(['1,2', '0', '255'], ['256', '', '1,,2', '-1', '1.5', '99999999999999999999']) : v(['1', '2'], BAD_INTS);
    case '--prompt': return v(['ab', 'é', '\u0000'], ['']);
    case '--pass': return v(['fold-double-neg', 'dce'], ['bogus{', 'sparsify-cn4{n=9}', '']);
    case '--path': return v(['0'], ['0:1', 'x', '']);
    case '--n': return v(['0', '1', '2', '3', '4'], ['5', '-1', '2.5']);
    case '--runs': return v(['1', '2'], ['0', '-1', 'abc', '1e400']);
    case '--print-ir-after': return v(['all', 'dce'], ['bogus', '']);
    case '--focus': return v(['^l0\\.'], ['(']);
    case '--sparsity': case '--latency': return v(['0.25', '0.5'], [...BAD_FLOATS, '1']);
    case '--temperature': return v(['0', '0.8'], BAD_FLOATS.filter((x) => x !== '2'));
    case '--rel': case '--abs': return v(['0', '1e-6'], BAD_FLOATS);
    default: return v(GOOD_INTS, BAD_INTS);
  }
}

interface Flag { readonly long: string; readonly takesValue: boolean; readonly mandatory: boolean }
interface CommandShape { readonly name: string; readonly positional: boolean; readonly flags: readonly Flag[] }

const program = buildProgram({ out() {}, err() {}, isTTY: false });
const COMMANDS: CommandShape[] = program.commands.map((c) => ({
  name: c.name(),
  positional: c.registeredArguments.length > 0,
  flags: c.options.map((o) => ({ long: o.long ?? o.short ?? '', takesValue: o.required || o.optional, mandatory: o.mandatory })),
}));

const EXTRA = ['--bogus', '-x', '--', '--help', '--debug', '--json', '-o'];

/** One flag of a case: which value (index), whether a hostile one, whether its value is left out. */
type Pick = [Flag, number, 'good' | 'bad' | 'none'];
const pick = (flags: readonly Flag[]) =>
  fc.tuple(fc.constantFrom(...flags), fc.nat(), fc.integer({ min: 0, max: 14 }).map((r): Pick[2] => (r < 12 ? 'good' : r < 14 ? 'bad' : 'none')));

/** An argument vector for one command: the positional, its required flags, some others, maybe junk. */
const argvArb = fc.constantFrom(...COMMANDS).chain((c) =>
  fc.record({
    command: fc.constant(c),
    positional: c.name === 'check-pass' ? fc.constantFrom(passModule, passModule, missing, textFile) : fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...MODELS) }, { weight: 1, arbitrary: fc.constantFrom(...BAD_MODELS) }),
    dropPositional: fc.integer({ min: 0, max: 19 }).map((x) => x === 0),
    required: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 19 })), { minLength: 8, maxLength: 8 }),
    flags: fc.array(pick(c.flags), { maxLength: 4 }),
    extra: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...EXTRA), fc.nat()) }),
  }),
);

let serial = 0;

type Case = { command: CommandShape; positional: string; dropPositional: boolean; required: Array<[number, number]>; flags: Pick[]; extra?: [string, number] };

function buildArgv(a: Case, out: string): string[] {
  const argv: string[] = [a.command.name];
  if (a.command.positional && !a.dropPositional) argv.push(a.positional);
  const push = (flag: Flag, index: number, kind: Pick[2]) => {
    argv.push(flag.long);
    if (!flag.takesValue || kind === 'none') return;
    const values = valuesFor(flag.long, a.command.name, out);
    const list = kind === 'good' && values.good.length > 0 ? values.good : values.bad;
    argv.push(list[index % list.length]);
  };
  // Required flags are there with a sane value (one in twenty left out).
  a.command.flags.filter((f) => f.mandatory).forEach((f, i) => {
    const [index, roll] = a.required[i % a.required.length];
    if (roll !== 0) push(f, index, roll === 1 ? 'bad' : 'good');
  });
  for (const [flag, index, kind] of a.flags) push(flag, index, kind);
  if (a.command.name === 'demo' && !argv.includes('--model')) argv.push('--model', missing); // never the full main job
  if (a.extra) argv.splice(1 + (a.extra[1] % argv.length), 0, a.extra[0]);
  return argv;
}

/** Temporary files the atomic writers use: `.NAME.PID.HEX.tmp`. */
const leftovers = (dir: string): string[] => {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      if (/\.tmp$/.test(f)) found.push(join(d, f));
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return found;
};

describe('CLI flag fuzz', () => {
  it('every command: exit 0, 1 or 2 with a message, never an internal error; inputs untouched; no temporary files left', async () => {
    const before = fingerprint();
    const tally = new Tally();
    const codes = new Map<string, Set<number>>();
    await fc.assert(
      fc.asyncProperty(argvArb, async (a) => {
        const caseDir = join(root, 'out', `c${serial++}`);
        mkdirSync(caseDir, { recursive: true });
        const argv = buildArgv(a, join(caseDir, 'result'));
        let stdout = '';
        let stderr = '';
        const t0 = performance.now();
        const code = await main(argv, { out: (s) => void (stdout += s), err: (s) => void (stderr += s), isTTY: false });
        const ms = performance.now() - t0;
        tally.add(code === 0 ? 'ok' : `exit ${code}`, ms, 0);
        if (!codes.has(a.command.name)) codes.set(a.command.name, new Set());
        codes.get(a.command.name)!.add(code);
        const what = `ssmc ${argv.map((s) => JSON.stringify(s)).join(' ')} -> ${code}\n${stderr.slice(0, 2000)}`;
        expect(stderr, what).not.toMatch(/internal error/);
        expect([0, 1, 2], what).toContain(code);
        if (code !== 0) expect(stderr.length, what).toBeGreaterThan(0);
        // Usage errors are found before any work; everything else runs on a tiny model.
        expect(ms, what).toBeLessThan((code === 2 ? 2000 : 20_000) * TIME_SCALE);
        expect(leftovers(caseDir), what).toEqual([]);
        expect(leftovers(inputs), what).toEqual([]);
        rmSync(caseDir, { recursive: true, force: true });
      }),
      fcOptions(250),
    );
    if (process.env.FUZZ_VERBOSE) console.log(tally.describe(), [...codes].map(([k, v]) => `${k}:${[...v].join('/')}`).join(' '));
    expect(fingerprint()).toBe(before);
    // Every command was reached, and some runs of the model commands got past parsing.
    expect([...codes.keys()].sort()).toEqual(COMMANDS.map((c) => c.name).sort());
    expect(tally.count('ok')).toBeGreaterThan(0);
    expect(tally.count('exit 1')).toBeGreaterThan(0);
    expect(tally.count('exit 2')).toBeGreaterThan(0);
  });
});

// `ssmc ir --format text|dot|svg`: text stays the default, the pipeline flags apply
// before drawing, the files are what the library makes, and bad requests exit non-zero
// with a clear message and no output file.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGraph, printGraph } from '../../src/ir/text/index.ts';
import { runBin, runCli } from '../helpers/cli.ts';
import { fixtureNames, fixturesDir } from '../helpers/paths.ts';
import { parseDot } from './graphviz-json.ts';
import { byClass, parseXml } from './xml.ts';

const fixture = join(fixturesDir(), fixtureNames()[0]);
const tmp = () => mkdtempSync(join(tmpdir(), 'ssmc-ir-'));
const PIPELINE = 'sparsify-cn4{method=magnitude pattern=uniform n=1},fuse-ops,select-layout{device=mali},materialize-layout';

describe('ssmc ir --format', () => {
  it('prints text by default and draws the same pipeline result as DOT and SVG', async () => {
    const d = tmp();
    const text = await runCli(['ir', fixture, '--pipeline', PIPELINE]);
    expect(text.code).toBe(0);
    const graph = parseGraph(text.stdout, { file: '<stdout>' }).graph;
    expect(printGraph(graph)).toBe(text.stdout);

    const dot = await runCli(['ir', fixture, '--pipeline', PIPELINE, '--format', 'dot', '-o', join(d, 'g.dot')]);
    expect(dot.code).toBe(0);
    expect(dot.stdout).toBe('');
    const parsed = await parseDot(readFileSync(join(d, 'g.dot'), 'utf8'));
    const groups = graph.nodes.filter((n) => n.body);
    expect(groups.length).toBeGreaterThan(0);
    expect([...parsed.clusters.keys()].sort()).toEqual(groups.map((n) => `cluster:${n.outputs[0].name}`).sort());
    // 1:4 everywhere: every sparse weight says 25.0%.
    for (const w of graph.weights.filter((x) => x.type.cn4)) expect(parsed.nodes.get(`weight:${w.name}`)!.label).toContain('C_n^4: 25.0% pruned');

    const svg = await runCli(['ir', fixture, '--pipeline', PIPELINE, '--format', 'svg', '-o', join(d, 'g.svg')]);
    expect(svg.code).toBe(0);
    const doc = parseXml(readFileSync(join(d, 'g.svg'), 'utf8'));
    expect(byClass(doc, 'cluster')).toHaveLength(groups.length);
    expect(readdirSync(d).sort()).toEqual(['g.dot', 'g.svg']);
  });

  it('draws an IR file, a focus of it, and without the legend', async () => {
    const d = tmp();
    const ir = join(d, 'fused.ir');
    expect((await runCli(['ir', fixture, '--pipeline', 'fuse-ops', '-o', ir])).code).toBe(0);
    const r = await runCli(['ir', ir, '--format', 'dot', '--focus', '^l2\\.', '--no-legend']);
    expect(r.code).toBe(0);
    const parsed = await parseDot(r.stdout);
    expect(parsed.nodes.has('legend')).toBe(false);
    expect(parsed.clusters.size).toBe(6);
    expect([...parsed.nodes.keys()].filter((id) => id.startsWith('input:')).sort()).toEqual(['input:conv.2', 'input:ssm.2']);
  });

  it('refuses a bad --format or focus with a clear error, a non-zero exit and no file', async () => {
    const d = tmp();
    const bad = runBin(['ir', fixture, '--format', 'png', '-o', join(d, 'g.png')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("option '--format <f>' argument 'png' is invalid");
    expect(bad.stderr).toContain('expected one of text, dot, svg');
    const none = await runCli(['ir', fixture, '--format', 'svg', '--focus', '^nothing$', '-o', join(d, 'g.svg')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('matches no node');
    const regex = await runCli(['ir', fixture, '--format', 'dot', '--focus', '(', '-o', join(d, 'g.dot')]);
    expect(regex.code).toBe(2);
    expect(regex.stderr).toContain('bad focus pattern');
    const textFocus = await runCli(['ir', fixture, '--focus', 'l1', '-o', join(d, 'g.ir')]);
    expect(textFocus.code).toBe(2);
    expect(textFocus.stderr).toContain('--format dot or svg');
    // A broken input IR file: a typed error, nothing written, the input untouched.
    const broken = join(d, 'broken.ir');
    writeFileSync(broken, 'graph @g {} {\n  %y = nn.nope(%x) : f32[1]\n}\n');
    const parse = await runCli(['ir', broken, '--format', 'svg', '-o', join(d, 'b.svg')]);
    expect(parse.code).toBe(1);
    expect(parse.stderr).toMatch(/error\[E_/);
    expect(readdirSync(d)).toEqual(['broken.ir']);
    expect(existsSync(join(d, 'g.png'))).toBe(false);
  });
});

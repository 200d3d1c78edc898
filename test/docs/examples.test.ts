// The examples in the documentation run: every ```ir block in docs/*.md and the README
// parses and verifies (and the IR guide's error example gives the error it shows), and
// every ```ts run block executes with 'ssmc' / 'ssmc/testing' pointing at the sources.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseGraph } from '../../src/ir/text/index.ts';
import { thrown } from '../helpers/errors.ts';
import { repoRoot } from '../helpers/paths.ts';
import { type Block, codeBlocks } from './markdown.ts';

const docs = [join(repoRoot, 'README.md'), ...readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(repoRoot, 'docs', f))];
const all = docs.flatMap(codeBlocks);
const where = (b: Block) => `${b.file.slice(repoRoot.length + 1)}:${b.line}`;

describe('documentation examples', () => {
  const ir = all.filter((b) => b.info === 'ir');

  it('the IR guide has its worked examples', () => {
    expect(ir.filter((b) => b.file.endsWith('ir-text-format.md')).length).toBeGreaterThanOrEqual(7);
  });

  it.each(ir.map((b) => [where(b), b] as const))('```ir at %s parses and verifies', (_, b) => {
    const { graph } = parseGraph(b.code, { file: where(b) });
    expect(graph.outputs.length).toBeGreaterThan(0);
  });

  it('the IR guide\'s error example gives the error it shows', () => {
    const guide = codeBlocks(join(repoRoot, 'docs/ir-text-format.md')).filter((b) => b.info === 'text');
    const broken = guide.find((b) => b.code.startsWith('graph @broken'))!;
    const shown = guide.find((b) => b.code.startsWith('ssmc: error[E_SYNTAX]'))!;
    const e = thrown(() => parseGraph(broken.code, { file: 'broken.ir' }));
    expect(shown.code.trim()).toBe(`ssmc: error[${e.code}]: ${e.message}`);
  });

  const runnable = all.filter((b) => /^ts\s+run$/.test(b.info));
  it('the pass guide and the README have runnable TypeScript examples', () => {
    expect(runnable.filter((b) => b.file.endsWith('writing-passes.md')).length).toBeGreaterThanOrEqual(4);
    expect(runnable.filter((b) => b.file.endsWith('README.md')).length).toBeGreaterThanOrEqual(1);
  });

  const dir = mkdtempSync(join(tmpdir(), 'ssmc-doc-examples-'));
  const lib = pathToFileURL(join(repoRoot, 'src/index.ts')).href;
  const testing = pathToFileURL(join(repoRoot, 'src/testing/index.ts')).href;
  it.each(runnable.map((b, i) => [where(b), b, i] as const))('```ts run at %s executes', async (_, b, i) => {
    // Pass names are global: each block registers its own, so blocks run once each.
    const code = b.code.replace(/from 'ssmc\/testing'/g, `from '${testing}'`).replace(/from 'ssmc'/g, `from '${lib}'`);
    const file = join(dir, `example-${i}.ts`);
    writeFileSync(file, code);
    await import(pathToFileURL(file).href);
  });
});

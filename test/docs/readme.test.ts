// The README stays true to the program: its quick start is exactly the two lines, and
// its command-line reference lists every command and every flag the real program has
// (read from the commander definitions that `--help` prints), each listed flag being
// accepted by the command it is listed under.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram, main } from '../../src/cli/main.ts';
import { repoRoot } from '../helpers/paths.ts';
import { codeBlocks } from './markdown.ts';

const readmePath = join(repoRoot, 'README.md');
const readme = readFileSync(readmePath, 'utf8');

/** The text from a `## title` heading to the next `## ` heading. */
function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start, `README has no "## ${title}"`).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** Flags named in the first cell of each table row: `-o, --output <path>` gives -o and --output. */
function tableFlags(text: string): string[] {
  const flags: string[] = [];
  for (const line of text.split('\n')) {
    const cell = /^\| `([^`]+)` \|/.exec(line)?.[1];
    if (cell) for (const m of cell.matchAll(/(?:^|[\s,])(--?[a-zA-Z][a-zA-Z0-9-]*)/g)) flags.push(m[1]);
  }
  return flags;
}

interface Documented { readonly name: string; readonly usage: string; readonly flags: string[] }

function documentedCommands(): Documented[] {
  const cli = section('Command line');
  const parts = cli.split(/\n### /).slice(1);
  const pipeline = parts.find((p) => p.startsWith('Pipeline flags'));
  expect(pipeline, 'README has no "### Pipeline flags"').toBeDefined();
  return parts
    .filter((p) => p.startsWith('`ssmc '))
    .map((p) => {
      const usage = /^`(ssmc [^`]+)`/.exec(p)![1];
      const flags = tableFlags(p);
      if (p.includes('[pipeline flags](#pipeline-flags)')) flags.push(...tableFlags(pipeline!));
      return { name: usage.split(' ')[1], usage, flags };
    });
}

const program = buildProgram({ out() {}, err() {}, isTTY: false });
const realFlags = (name: string): string[] => {
  const cmd = program.commands.find((c) => c.name() === name)!;
  return cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));
};

describe('README', () => {
  it('has exactly the two-line quick start', () => {
    const blocks = codeBlocks(readmePath).filter((b) => section('Quick start').includes(b.code));
    expect(blocks.map((b) => b.code)).toEqual(['npm ci && npm start\nnpm run setup && npm test\n']);
  });

  it('documents every command of the program, and only those', () => {
    const documented = documentedCommands().map((c) => c.name).sort();
    expect(documented).toEqual(program.commands.map((c) => c.name()).sort());
  });

  it.each(program.commands.map((c) => c.name()))('lists every flag of ssmc %s, and only real ones', (name) => {
    const doc = documentedCommands().find((c) => c.name === name)!;
    expect([...new Set(doc.flags)].sort()).toEqual([...new Set(realFlags(name))].sort());
    // The usage line names the positional arguments the command takes.
    const cmd = program.commands.find((c) => c.name() === name)!;
    for (const a of cmd.registeredArguments) expect(doc.usage).toContain(a.name().toUpperCase());
  });

  it('every listed flag is accepted by its command (no "unknown option")', async () => {
    const missing = join(repoRoot, 'no-such-model-for-readme-test');
    for (const doc of documentedCommands()) {
      const cmd = program.commands.find((c) => c.name() === doc.name)!;
      for (const flag of new Set(doc.flags)) {
        const opt = cmd.options.find((o) => o.long === flag || o.short === flag)!;
        const argv = [doc.name, ...(cmd.registeredArguments.length ? [missing] : []), flag, ...(opt.required || opt.optional ? ['x'] : [])];
        // The main job must not start on the embedded model: point it at nothing.
        if (doc.name === 'demo' && flag !== '--model') argv.push('--model', missing);
        let stderr = '';
        const code = await main(argv, { out() {}, err: (s) => void (stderr += s), isTTY: false });
        expect(stderr, `ssmc ${argv.join(' ')}`).not.toMatch(/unknown option|internal error/);
        expect(code, `ssmc ${argv.join(' ')}`).not.toBe(0); // nothing ran on a missing model
      }
    }
  });
});

// Fenced code blocks of Markdown files, for the documentation tests.
import { readFileSync } from 'node:fs';

export interface Block { readonly file: string; readonly line: number; readonly info: string; readonly code: string }

/** Fenced code blocks of a Markdown file, with their info string and first line. */
export function codeBlocks(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S.*)?$/.exec(lines[i]);
    if (!open) continue;
    const start = i + 1;
    let j = start;
    while (j < lines.length && lines[j] !== '```') j++;
    blocks.push({ file, line: start, info: (open[1] ?? '').trim(), code: `${lines.slice(start, j).join('\n')}\n` });
    i = j;
  }
  return blocks;
}

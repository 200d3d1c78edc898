// A description of the machine a benchmark ran on, recorded with every result.
import { cpus, totalmem, type } from 'node:os';
import { readFileSync } from 'node:fs';

export function describeMachine(): string {
  const c = cpus();
  let flags = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const f = /^flags\s*:\s*(.*)$/m.exec(info)?.[1].split(' ') ?? [];
    flags = ['avx2', 'avx512f', 'fma'].filter((x) => f.includes(x)).join(',');
  } catch {
    // not Linux: flags unknown
  }
  return `${c.length} x ${c[0]?.model.trim() ?? 'unknown CPU'}${flags ? ` (${flags})` : ''}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${type()} ${process.arch}, Node ${process.version}`;
}

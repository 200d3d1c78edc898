// Decode and prefill speed of a built C folder, measured by its own driver (`bench`
// command) so that no IPC sits inside the timed loop: the driver times the decode
// steps and the two prefills (all logits, last logits) with a monotonic clock and reports its peak RSS.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SsmcError } from '../../errors.ts';

export interface CBenchOptions {
  readonly threads?: number;
  /** Decode steps timed (after 2 warm-up steps). */
  readonly tokens?: number;
  /** Prompt length of the timed prefill (0: none). */
  readonly prefill?: number;
  /** Program (default `<dir>/ssmc_driver`) and a command prefix (e.g. qemu). */
  readonly driver?: string;
  readonly exec?: readonly string[];
  /** Verify the weights checksum on load (default false: load time is not measured). */
  readonly verify?: boolean;
}

export interface CBenchResult {
  readonly decode_tokens_per_s: number;
  /** The prompt with every token's logits (ssmc_prefill). */
  readonly prefill_tokens_per_s: number;
  /** The same prompt with the last token's logits only (ssmc_prefill_last, what generation runs). */
  readonly prefill_last_tokens_per_s: number;
  readonly weight_bytes_per_token: number;
  readonly threads: number;
  readonly decode_tokens: number;
  readonly prefill_tokens: number;
  readonly peak_rss_bytes: number;
}

export function benchC(dir: string, opts: CBenchOptions = {}): CBenchResult {
  const args = ['bench', '--tokens', String(opts.tokens ?? 128), '--prefill', String(opts.prefill ?? 512)];
  if (opts.threads !== undefined) args.push('--threads', String(opts.threads));
  if (!opts.verify) args.push('--no-verify');
  const argv = [...(opts.exec ?? []), opts.driver ?? join(dir, 'ssmc_driver'), ...args];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.error || r.status !== 0) throw new SsmcError('E_IO', `C driver bench failed: ${r.error?.message ?? r.stderr.trim()}`, { file: dir });
  try {
    return JSON.parse(r.stdout) as CBenchResult;
  } catch {
    throw new SsmcError('E_IO', `C driver bench printed no JSON: ${r.stdout.slice(0, 200)}`, { file: dir });
  }
}

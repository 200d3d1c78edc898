import { describe, expect, it } from 'vitest';
import { pipelineFromFlags } from '../../src/cli/pipeline-flags.ts';
import { parsePipeline, printPipeline } from '../../src/passes/pipeline.ts';
import { thrown } from '../helpers/errors.ts';

describe('pipeline shorthand flags', () => {
  it('expand into one canonical sparsify-cn4 step', () => {
    const cases: Array<[Parameters<typeof pipelineFromFlags>[0], string]> = [
      [{ sparsity: 0.5 }, 'sparsify-cn4{method=obs pattern=adaptive sparsity=0.5}'],
      [{ n: 2, method: 'wanda' }, 'sparsify-cn4{method=wanda pattern=uniform n=2}'],
      [{ latency: 0.6 }, 'sparsify-cn4{method=obs pattern=adaptive latency=0.6}'],
    ];
    for (const [flags, want] of cases) {
      const got = pipelineFromFlags(flags)!;
      expect(got).toBe(want);
      expect(printPipeline(parsePipeline(got))).toBe(got); // canonical
    }
    expect(pipelineFromFlags({})).toBeUndefined();
    expect(pipelineFromFlags({ pipeline: 'dce,cse' })).toBe('dce,cse');
  });

  it('reject contradictions with a message naming the flags', () => {
    expect(thrown(() => pipelineFromFlags({ pipeline: 'dce', sparsity: 0.5 })).message).toContain('--pipeline cannot be combined');
    expect(thrown(() => pipelineFromFlags({ pattern: 'uniform', sparsity: 0.5 })).message).toContain('--pattern uniform takes --n');
    expect(thrown(() => pipelineFromFlags({ pattern: 'adaptive', n: 2 })).message).toContain('--n goes with --pattern uniform');
  });

  it('reorders rows by n after an adaptive shorthand only when asked (run/compile), never after uniform or an explicit pipeline', () => {
    expect(pipelineFromFlags({ sparsity: 0.5 }, { reorder: true })).toBe('sparsify-cn4{method=obs pattern=adaptive sparsity=0.5},reorder-weights');
    expect(pipelineFromFlags({ latency: 0.6 }, { reorder: true })).toBe('sparsify-cn4{method=obs pattern=adaptive latency=0.6},reorder-weights');
    expect(pipelineFromFlags({ sparsity: 0.5 })).toBe('sparsify-cn4{method=obs pattern=adaptive sparsity=0.5}');
    expect(pipelineFromFlags({ n: 2 }, { reorder: true })).toBe('sparsify-cn4{method=obs pattern=uniform n=2}');
    expect(pipelineFromFlags({ pipeline: 'sparsify-cn4{sparsity=0.5}' }, { reorder: true })).toBe('sparsify-cn4{sparsity=0.5}');
  });
});

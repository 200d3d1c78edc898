// The max-flow/min-cut solver against brute force: on random small networks (finite
// and infinite capacities) the flow equals the cheapest of all 2^(n-2) s-t cuts, and
// the source side it reports is a cut of exactly that capacity.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowNetwork } from '../../../src/passes/layout/min-cut.ts';
import { close, seed } from './helpers.ts';

type Edge = [number, number, number];

const arbNetwork = fc.integer({ min: 2, max: 9 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    edges: fc.array(
      fc.tuple(fc.nat({ max: n - 1 }), fc.nat({ max: n - 1 }), fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), fc.integer({ min: 0, max: 5 }), fc.constant(Infinity))),
      { maxLength: 30 },
    ),
  }),
);

function cutCapacity(edges: readonly Edge[], side: (v: number) => boolean): number {
  return edges.reduce((a, [u, v, c]) => a + (side(u) && !side(v) ? c : 0), 0);
}

function bruteForce(n: number, edges: readonly Edge[]): number {
  let best = Infinity;
  // Node 0 = s on the source side, node 1 = t on the sink side.
  for (let mask = 0; mask < 1 << (n - 2); mask++) {
    best = Math.min(best, cutCapacity(edges, (v) => v === 0 || (v > 1 && ((mask >> (v - 2)) & 1) === 1)));
  }
  return best;
}

describe('FlowNetwork', () => {
  it('max flow equals the brute-force minimum cut, and the reported side achieves it', () => {
    fc.assert(
      fc.property(arbNetwork, ({ n, edges }) => {
        const net = new FlowNetwork(n);
        for (const [u, v, c] of edges) net.addEdge(u, v, c);
        const flow = net.maxFlow(0, 1);
        const best = bruteForce(n, edges);
        if (best === Infinity) return flow === Infinity;
        expect(close(flow, best)).toBe(true);
        const side = net.sourceSide(0);
        expect(side[0]).toBe(true);
        expect(side[1]).toBe(false);
        expect(close(cutCapacity(edges, (v) => side[v]), best)).toBe(true);
        return true;
      }),
      { seed, numRuns: 300 },
    );
  });

  it('rejects negative capacities', () => {
    expect(() => new FlowNetwork(2).addEdge(0, 1, -1)).toThrow(RangeError);
  });
});

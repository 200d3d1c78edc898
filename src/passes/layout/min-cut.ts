// s-t minimum cut by maximum flow (Dinic: BFS level graph, then blocking flows by DFS
// with per-node edge pointers; O(V^2 E), far below that on layout graphs). Capacities
// are non-negative reals; `Infinity` is allowed as long as some finite cut exists.
// After `maxFlow`, `sourceSide()` gives the minimum cut's source side: the nodes still
// reachable from s in the residual graph.

export class FlowNetwork {
  readonly size: number;
  // Edge arrays: edge e goes to[e] with capacity cap[e]; e ^ 1 is its reverse.
  readonly #to: number[] = [];
  readonly #cap: number[] = [];
  readonly #adj: number[][];
  #eps = 0;

  constructor(size: number) {
    this.size = size;
    this.#adj = Array.from({ length: size }, () => []);
  }

  /** A directed edge u -> v of capacity c (>= 0); zero-capacity edges are skipped. */
  addEdge(u: number, v: number, c: number): void {
    if (!(c >= 0)) throw new RangeError(`capacity must be >= 0, got ${c}`);
    if (c === 0 || u === v) return;
    this.#adj[u].push(this.#to.length);
    this.#to.push(v);
    this.#cap.push(c);
    this.#adj[v].push(this.#to.length);
    this.#to.push(u);
    this.#cap.push(0);
  }

  /** Pushes the maximum flow from s to t; returns its value (the min-cut capacity). */
  maxFlow(s: number, t: number): number {
    // Residuals below eps count as saturated, so float round-off cannot leave a
    // phantom path; eps is relative to the largest finite capacity.
    const finite = this.#cap.filter((c) => Number.isFinite(c));
    this.#eps = Math.max(0, ...finite) * 1e-12;
    let flow = 0;
    const level = new Int32Array(this.size);
    const next = new Int32Array(this.size);
    while (this.#bfs(s, t, level)) {
      next.fill(0);
      for (;;) {
        const f = this.#dfs(s, t, Infinity, level, next);
        if (f <= this.#eps) break;
        flow += f;
        if (flow === Infinity) return Infinity;
      }
    }
    return flow;
  }

  /** After maxFlow(s, t): membership of each node in the source side of a minimum cut. */
  sourceSide(s: number): boolean[] {
    const seen = new Array<boolean>(this.size).fill(false);
    seen[s] = true;
    const stack = [s];
    while (stack.length > 0) {
      const u = stack.pop()!;
      for (const e of this.#adj[u]) {
        const v = this.#to[e];
        if (!seen[v] && this.#cap[e] > this.#eps) {
          seen[v] = true;
          stack.push(v);
        }
      }
    }
    return seen;
  }

  #bfs(s: number, t: number, level: Int32Array): boolean {
    level.fill(-1);
    level[s] = 0;
    const queue = [s];
    for (let qi = 0; qi < queue.length; qi++) {
      const u = queue[qi];
      for (const e of this.#adj[u]) {
        const v = this.#to[e];
        if (level[v] < 0 && this.#cap[e] > this.#eps) {
          level[v] = level[u] + 1;
          queue.push(v);
        }
      }
    }
    return level[t] >= 0;
  }

  #dfs(u: number, t: number, pushed: number, level: Int32Array, next: Int32Array): number {
    if (u === t) return pushed;
    const adj = this.#adj[u];
    for (; next[u] < adj.length; next[u]++) {
      const e = adj[next[u]];
      const v = this.#to[e];
      if (level[v] !== level[u] + 1 || !(this.#cap[e] > this.#eps)) continue;
      const f = this.#dfs(v, t, Math.min(pushed, this.#cap[e]), level, next);
      if (f > this.#eps) {
        this.#cap[e] -= f;
        this.#cap[e ^ 1] += f;
        return f;
      }
    }
    return 0;
  }
}

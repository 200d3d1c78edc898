// Picking part of a graph to draw: the top-level nodes that define a value whose name
// matches (inside their body too, so a fused group counts by what it computes).
import type { Node } from '../ir/graph.ts';
import { walkNodes } from '../ir/graph.ts';
import { SsmcError } from '../errors.ts';

/** A `DotOptions.include` keeping the nodes that define (directly or in their body) a value whose name matches `pattern`. */
export function focusByName(pattern: string): (node: Node) => boolean {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (e) {
    throw new SsmcError('E_ARG', `bad focus pattern /${pattern}/: ${(e as Error).message}`);
  }
  return (node) => [node, ...(node.body ? walkNodes(node.body) : [])].some((n) => n.outputs.some((v) => re.test(v.name)));
}

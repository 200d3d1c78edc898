// A fused group: one node whose body is the sub-graph it replaced. Its meaning is its
// body's meaning; backends emit it as one kernel.
import { defineOp, streamingCost, typeError } from '../op-registry.ts';
import type { Region } from '../graph.ts';
import type { TensorType } from '../types.ts';
import { formatTypeBrief, sameValueType } from '../types.ts';

export function regionValueTypes(region: Region): Map<string, TensorType> {
  const m = new Map<string, TensorType>();
  for (const v of region.inputs) m.set(v.name, v.type);
  for (const n of region.nodes) for (const v of n.outputs) m.set(v.name, v.type);
  return m;
}

export const fusedGroup = defineOp({
  kind: 'fused.group',
  description: 'a fused kernel; its body defines what it computes',
  fusion: 'opaque',
  inputs: [],
  variadic: true,
  hasBody: true,
  attrs: { kernel: { kind: 'string', doc: 'a readable kernel name' } },
  infer(inputs, _attrs, body) {
    if (!body) typeError('fused.group needs a body');
    if (body.inputs.length !== inputs.length) typeError(`body takes ${body.inputs.length} parameters, node passes ${inputs.length}`);
    body.inputs.forEach((p, i) => {
      if (!sameValueType(p.type, inputs[i])) typeError(`body parameter %${p.name} is ${formatTypeBrief(p.type)}, node passes ${formatTypeBrief(inputs[i])}`);
    });
    const types = regionValueTypes(body);
    return body.outputs.map((name) => types.get(name) ?? typeError(`body yields undefined value %${name}`));
  },
  evaluate(inputs, _attrs, _outTypes, ctx, body) {
    return ctx.runRegion(body!, inputs);
  },
  cost(inputs, outputs) {
    return streamingCost(inputs, outputs, 0);
  },
});

// Memory-kind conversions for the OpenCL backend: `mem.to_image` copies a buffer into
// an image2d (RGBA texels = 4 consecutive values of the last axis), `mem.to_buffer`
// copies an image2d back into a buffer. They change where a value lives, never what it
// is: the interpreter passes the data through. `materialize-layout` inserts them where a
// kernel reads a value in the other kind than its producer wrote (specs/layout.md);
// a backend emits each as one conversion kernel. The output's type carries the target
// memory kind; the storage dtype is kept (an f16 weight stays f16, as a half image).
import { defineOp, streamingCost, typeError } from '../op-registry.ts';
import type { OpDef } from '../op-registry.ts';
import { alloc } from '../tensor.ts';
import type { MemoryKind } from '../types.ts';
import { formatTypeBrief, isFloat } from '../types.ts';

function conversion(kind: string, to: MemoryKind, doc: string): OpDef {
  const from: MemoryKind = to === 'image2d' ? 'buffer' : 'image2d';
  return defineOp({
    kind,
    description: doc,
    // Never fused: it is a kernel of its own, the thing layout selection minimises.
    fusion: 'opaque',
    inputs: ['x'],
    attrs: {},
    infer([x]) {
      if (!isFloat(x.dtype)) typeError(`x must be a float tensor, got ${formatTypeBrief(x)}`);
      if (x.shape.length < 1 || x.shape.length > 2) typeError(`an image2d holds rank 1 or 2 tensors, got ${formatTypeBrief(x)}`);
      // An unannotated value is a buffer (the backend's default).
      if ((x.memory ?? 'buffer') !== from) typeError(`x is already ${x.memory ?? 'buffer'}; ${kind} converts ${from} to ${to}`);
      return [{ dtype: x.dtype, shape: [...x.shape], memory: to }];
    },
    evaluate([x], _attrs, [outT]) {
      const out = alloc(outT);
      out.data.set(x.data);
      return [out];
    },
    // Bytes moved: the value read once in one kind and written once in the other.
    cost(inputs, outputs) {
      return streamingCost(inputs, outputs, 0);
    },
    // Identity on values, so on gradients.
    vjp: ({ outGrads: [g], wants }) => [wants[0] && g ? Float64Array.from(g) : undefined],
  });
}

export const toImage = conversion('mem.to_image', 'image2d', 'copy a buffer into an image2d (RGBA texels along the last axis); identity on values');
export const toBuffer = conversion('mem.to_buffer', 'buffer', 'copy an image2d into a buffer; identity on values');

/** The conversion op writing `to`. */
export function conversionOp(to: MemoryKind): string {
  return to === 'image2d' ? toImage.kind : toBuffer.kind;
}

export function isConversion(op: string): boolean {
  return op === toImage.kind || op === toBuffer.kind;
}

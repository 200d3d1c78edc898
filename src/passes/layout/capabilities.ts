// Which memory kinds a tensor can have and a kernel can read or write, on one device.
// Three sources of constraints, each a reason a tensor cannot be an image:
// - the tensor itself (feasibility): image2d holds float RGBA texels of 4 values along
//   the last (reduction) axis, so it needs an f32/f16 tensor of rank 1 or 2 whose last
//   axis is a multiple of 4 and fits the device's width/height limits;
// - the op: the device's `bufferOnly` table (in-place state updates), and the
//   conversion ops, which read one kind and write the other;
// - the device: no image support at all.
import type { Region } from '../../ir/graph.ts';
import type { MemoryKind, TensorType } from '../../ir/types.ts';
import { numel } from '../../ir/types.ts';
import type { DeviceDesc } from '../devices/index.ts';
import type { Use } from './access.ts';

const BOTH: readonly MemoryKind[] = ['buffer', 'image2d'];
const BUFFER: readonly MemoryKind[] = ['buffer'];
const IMAGE: readonly MemoryKind[] = ['image2d'];

/** Why `t` cannot be stored as an image2d on `device`, or undefined when it can. */
export function imageInfeasibility(t: TensorType, device: DeviceDesc): string | undefined {
  if (!device.imageSupport) return `${device.name} has no image support`;
  if (t.dtype !== 'f32' && t.dtype !== 'f16') return `${t.dtype} has no image channel type (f32 and f16 only)`;
  if (t.shape.length < 1 || t.shape.length > 2) return `rank ${t.shape.length} (image2d holds rank 1 or 2)`;
  if (numel(t.shape) === 0) return 'it is empty';
  const last = t.shape[t.shape.length - 1];
  if (last % 4 !== 0) return `last axis ${last} is not a multiple of 4 (RGBA texels)`;
  const width = last / 4;
  const height = t.shape.length === 2 ? t.shape[0] : 1;
  if (width > device.maxImageWidth) return `${width} texels wide > ${device.name} max ${device.maxImageWidth}`;
  if (height > device.maxImageHeight) return `${height} rows > ${device.name} max ${device.maxImageHeight}`;
  return undefined;
}

/** Kinds in which op `op` can read its operand `j`. */
export function operandKinds(device: DeviceDesc, op: string, j: number): readonly MemoryKind[] {
  if (op === 'mem.to_image') return BUFFER;
  if (op === 'mem.to_buffer') return IMAGE;
  if (!device.imageSupport || device.bufferOnly[op]?.inputs?.includes(j)) return BUFFER;
  return BOTH;
}

/** Kinds in which op `op` can write its result `i`. */
export function resultKinds(device: DeviceDesc, op: string, i: number): readonly MemoryKind[] {
  if (op === 'mem.to_image') return IMAGE;
  if (op === 'mem.to_buffer') return BUFFER;
  if (!device.imageSupport || device.bufferOnly[op]?.outputs?.includes(i)) return BUFFER;
  return BOTH;
}

/** Kinds every one of `uses` can read. */
export function usesKinds(device: DeviceDesc, uses: readonly Use[]): readonly MemoryKind[] {
  return uses.reduce<readonly MemoryKind[]>((acc, u) => intersect(acc, operandKinds(device, u.op, u.operand)), BOTH);
}

/** Kinds in which a fused kernel with `body` can write its result `i`. */
export function bodyResultKinds(device: DeviceDesc, body: Region, i: number): readonly MemoryKind[] {
  const name = body.outputs[i];
  for (const n of body.nodes) {
    const k = n.outputs.findIndex((o) => o.name === name);
    if (k < 0) continue;
    return n.body ? bodyResultKinds(device, n.body, k) : resultKinds(device, n.op, k);
  }
  // A parameter or weight yielded as it is: the kernel copies it, in either kind.
  return device.imageSupport ? BOTH : BUFFER;
}

export function intersect(a: readonly MemoryKind[], b: readonly MemoryKind[]): readonly MemoryKind[] {
  return a.filter((k) => b.includes(k));
}

// What layout selection needs to know about a GPU family: relative costs of moving a
// byte through each memory kind, what a conversion kernel costs, how large an image
// may be, and which op operands must stay buffers. Numbers are RELATIVE costs argued
// from public vendor guides (each table cites its sources), not measurements: the unit
// is "reading one byte once from a buffer on this device" = 1. Only ratios inside one
// table matter; costs of different tables are not comparable.
import type { MemoryKind } from '../../ir/types.ts';

export type PerKind = Readonly<Record<MemoryKind, number>>;

/** Operands / results of one op kind that must be buffers (positions, 0-based). */
export interface BufferOnly {
  readonly inputs?: readonly number[];
  readonly outputs?: readonly number[];
}

export interface DeviceDesc {
  /** Registry key and `select-layout{device=...}` value. */
  readonly name: string;
  readonly description: string;
  /** Per byte the first time a kernel fetches it (streaming, e.g. weight rows). */
  readonly read: PerKind;
  /**
   * Per byte for each further fetch of the same data by other work-items (e.g. the
   * activation vector every output row of a matvec reads): served by a cache, so
   * cheaper than `read`, and this is where the texture L1 of an image pays off.
   */
  readonly reread: PerKind;
  /** Per byte written. */
  readonly write: PerKind;
  /** A conversion kernel (mem.to_image / mem.to_buffer): per byte of the value, plus a fixed launch. */
  readonly convert: { readonly perByte: number; readonly launch: number };
  /** Fixed cost of launching any kernel (enqueue + dispatch), in the same unit. */
  readonly launch: number;
  /** CL_DEVICE_IMAGE2D_MAX_WIDTH in texels (RGBA: 4 values of the last axis per texel). */
  readonly maxImageWidth: number;
  /** CL_DEVICE_IMAGE2D_MAX_HEIGHT (rows: the leading axis of a rank-2 tensor). */
  readonly maxImageHeight: number;
  /** cl_khr_fp16: f16 arithmetic. Half storage works without it (read_imagef on CL_HALF_FLOAT images, vload_half on buffers). */
  readonly fp16: boolean;
  /** CL_DEVICE_IMAGE_SUPPORT; without it every tensor is a buffer. */
  readonly imageSupport: boolean;
  /**
   * Matrix-vector kernels (nn.linear): a work-group of up to `workGroup` items (a power
   * of two) shares one output texel's reduction, each item reducing at least
   * `minTexelsPerItem` texels serially before a local-memory tree; neighbouring items
   * read neighbouring texels of the same rows. Shorter reductions use one work item
   * per 4 rows. `workGroup` < 2: never.
   */
  readonly matvec: { readonly workGroup: number; readonly minTexelsPerItem: number };
  /** Per op kind: operands and results that must be buffers on this device. */
  readonly bufferOnly: Readonly<Record<string, BufferOnly>>;
  /** Where the numbers come from (guides, spec minimums) and how they were turned into ratios. */
  readonly sources: readonly string[];
}

/**
 * Rules every OpenCL 1.2 device shares. The recurrent state (conv window, SSM state)
 * is updated in place by the runtime, which keeps one device object per state and
 * lets the step kernel read and write it: an OpenCL 1.2 kernel cannot read and write
 * the same image (read_write images are 2.0), so state operands and state results
 * stay buffers. i32 tensors (token ids, gather indices) are buffers by feasibility.
 */
export const IN_PLACE_STATE: Readonly<Record<string, BufferOnly>> = {
  'ssm.conv1d_step': { inputs: [0], outputs: [1] },
  'ssm.conv1d': { inputs: [0], outputs: [1] },
  'ssm.scan_step': { inputs: [0], outputs: [1] },
  'ssm.scan': { inputs: [0], outputs: [1] },
};

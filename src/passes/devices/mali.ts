// Arm Mali (Bifrost / Valhall). Images and buffers share one cache hierarchy.
import type { DeviceDesc } from './types.ts';
import { IN_PLACE_STATE } from './types.ts';

export const mali: DeviceDesc = {
  name: 'mali',
  description: 'Arm Mali: no separate texture cache benefit for compute; images add texture-unit overhead',
  // Image reads go through the texture unit, which on Mali shares the L1/L2 with the
  // load/store path: no extra cache, only a small addressing/format overhead.
  read: { buffer: 1, image2d: 1.1 },
  reread: { buffer: 0.2, image2d: 0.25 },
  write: { buffer: 1, image2d: 1.2 },
  convert: { perByte: 2.2, launch: 200_000 },
  launch: 200_000,
  // CL_DEVICE_IMAGE2D_MAX_WIDTH/HEIGHT as reported by Mali-G drivers.
  maxImageWidth: 65536,
  maxImageHeight: 65536,
  fp16: true,
  imageSupport: true,
  // Mali Valhall runs warps of 16 threads and Arm recommends work-groups that are a multiple of 4 up to 64-128; 64 items per output texel, 8+ texels each before the tree.
  matvec: { workGroup: 64, minTexelsPerItem: 8 },
  bufferOnly: IN_PLACE_STATE,
  sources: [
    'Arm, "Mali GPU OpenCL Developer Guide" / "Arm Mali GPU Best Practices": Mali has no dedicated texture memory; buffers and images are served by the same caches, so images help only when their sampling/format features are needed; prefer buffers for compute',
    'cl_khr_fp16 is exposed by Mali-G OpenCL drivers',
    'ratios (1.1, 0.25 vs 0.2, 1.2) only encode "a little worse than buffers"; not measurements',
  ],
};

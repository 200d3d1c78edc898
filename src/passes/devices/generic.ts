// An unknown OpenCL 1.2 GPU: spec minimums, no assumption about a texture cache.
import type { DeviceDesc } from './types.ts';
import { IN_PLACE_STATE } from './types.ts';

export const generic: DeviceDesc = {
  name: 'generic',
  description: 'an unknown OpenCL 1.2 GPU: images allowed, assumed slightly worse than buffers (ties go to buffers)',
  // With nothing known, images only risk overhead: 5% more per byte, so any tie
  // resolves to the simpler buffer kernels.
  read: { buffer: 1, image2d: 1.05 },
  reread: { buffer: 0.3, image2d: 0.315 },
  write: { buffer: 1, image2d: 1.05 },
  convert: { perByte: 2.05, launch: 200_000 },
  launch: 200_000,
  // OpenCL 1.2 full-profile minimum for CL_DEVICE_IMAGE2D_MAX_WIDTH/HEIGHT.
  maxImageWidth: 8192,
  maxImageHeight: 8192,
  // cl_khr_fp16 is optional: half storage through vload_half / read_imagef only.
  fp16: false,
  imageSupport: true,
  // OpenCL 1.2 GPUs allow work-groups of at least 256 in practice (the spec minimum is 1, so the runtime checks each kernel's limit when it opens); 64 items per output texel, 8+ texels each.
  matvec: { workGroup: 64, minTexelsPerItem: 8 },
  bufferOnly: IN_PLACE_STATE,
  sources: [
    'Khronos OpenCL 1.2 specification, table 4.3: minimum image2d width/height 8192 (full profile); cl_khr_fp16 optional; vload_half/read_imagef for half storage are core',
    'no vendor guide: costs are buffer costs times 1.05 so that images are chosen only where a constraint requires them',
  ],
};

// Qualcomm Adreno (A5x-A7x class). Images are the fast path for read-only data.
import type { DeviceDesc } from './types.ts';
import { IN_PLACE_STATE } from './types.ts';

export const adreno: DeviceDesc = {
  name: 'adreno',
  description: 'Qualcomm Adreno: image reads go through the texture pipe and its L1 cache; buffers do not',
  // Streaming reads: the texture pipe is a second path to memory beside load/store,
  // and does address arithmetic and format conversion (half -> float) in hardware,
  // so a streamed weight read as an image is somewhat cheaper: 0.8 vs 1.
  read: { buffer: 1, image2d: 0.8 },
  // Re-reads of data other work-items just fetched: an L1 (texture cache) hit for an
  // image, an L2 (UCHE) round trip for a buffer. L1 is several times cheaper than L2;
  // we take 0.1 vs 0.3.
  reread: { buffer: 0.3, image2d: 0.1 },
  // Writes bypass the texture cache either way; image writes pay the format packing.
  write: { buffer: 1, image2d: 1.1 },
  // A conversion reads the value in one kind and writes it in the other (about 1 + 1
  // per byte), and is one more enqueue: ~10 us of dispatch on a phone, i.e. ~200 KB
  // at ~20 GB/s of effective bandwidth, expressed in bytes-read units.
  convert: { perByte: 2.1, launch: 200_000 },
  launch: 200_000,
  // CL_DEVICE_IMAGE2D_MAX_WIDTH/HEIGHT as reported by A6x/A7x devices.
  maxImageWidth: 16384,
  maxImageHeight: 16384,
  fp16: true,
  imageSupport: true,
  // Adreno A6x/A7x run waves of 64 or 128 fibers and allow work-groups of 1024; 64 items per output texel fill a wave with coalesced texture reads of one row, and 8+ texels per item keep the tree (6 levels) small against the streaming.
  matvec: { workGroup: 64, minTexelsPerItem: 8 },
  bufferOnly: IN_PLACE_STATE,
  sources: [
    'Qualcomm, "Snapdragon Mobile Platform OpenCL General Programming and Optimization" (80-NB295-11): use image objects for read-only data with reuse, which is served by the texture pipe and its L1 cache; buffer loads go to L2; using both paths adds bandwidth; prefer half precision',
    'TVM Adreno backend (texture memory scope annotation): weights and activations in textures, conversions where scopes differ',
    'cl_khr_fp16 is exposed by Adreno OpenCL drivers',
    'ratios (0.8, 0.1 vs 0.3, 1.1, launch ~200 KB) are our reading of those guides, not measurements',
  ],
};

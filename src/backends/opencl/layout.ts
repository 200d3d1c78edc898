// The pipeline `ssmc compile --target opencl` runs after the user's: fusion, then the
// memory-layout choice for the device and the explicit conversions it leaves. The
// layout passes are another engineer's; until they are registered the graph is
// compiled all-buffer and the caller says so.
import { findPass } from '../../passes/index.ts';

export type OpenCLDevice = 'adreno' | 'mali' | 'generic';
export const OPENCL_DEVICES: readonly OpenCLDevice[] = ['adreno', 'mali', 'generic'];

export interface LayoutPipeline {
  readonly pipeline: string;
  /** False when select-layout / materialize-layout are not registered (all-buffer). */
  readonly layout: boolean;
}

export function openclPipeline(device: OpenCLDevice): LayoutPipeline {
  const layout = findPass('select-layout') !== undefined && findPass('materialize-layout') !== undefined;
  return layout ? { pipeline: `fuse-ops,select-layout{device=${device}},materialize-layout`, layout } : { pipeline: 'fuse-ops', layout };
}

// The typed error for "this machine cannot run OpenCL": what is missing, named.
import { SsmcError } from '../../errors.ts';

/**
 * headers: no CL/cl.h to compile the host code (opencl-headers);
 * loader: no ICD loader library to link or load (ocl-icd-libopencl1 / ocl-icd-opencl-dev);
 * platform: the loader found no vendor driver (.icd file, e.g. pocl-opencl-icd);
 * device: platforms exist but none offers a (matching) device.
 */
export type OpenCLMissing = 'headers' | 'loader' | 'platform' | 'device';

export class OpenCLUnavailableError extends SsmcError {
  readonly missing: OpenCLMissing;
  constructor(missing: OpenCLMissing, detail: string) {
    super('E_UNSUPPORTED', `OpenCL is not available on this machine: ${detail}`);
    this.name = 'OpenCLUnavailableError';
    this.missing = missing;
  }
}

/** The OpenCLUnavailableError a tool's or the driver's message describes, if any. */
export function classifyOpenCLFailure(text: string): OpenCLUnavailableError | undefined {
  if (/CL\/cl\.h/.test(text)) return new OpenCLUnavailableError('headers', 'no OpenCL headers (CL/cl.h); install opencl-headers');
  if (/cannot find -lOpenCL|libOpenCL\.so[.\d]*: cannot open shared object/.test(text)) return new OpenCLUnavailableError('loader', 'no OpenCL ICD loader (libOpenCL.so); install ocl-icd-libopencl1 and ocl-icd-opencl-dev');
  const m = /no OpenCL (platform|device)[^\n]*/.exec(text);
  if (m) return new OpenCLUnavailableError(m[1] as 'platform' | 'device', m[0]);
  return undefined;
}

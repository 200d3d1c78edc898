// Typed errors. Every error the library raises on bad input is an SsmcError with a
// stable code and, where known, a location (file + byte offset, or line:column).
// The CLI prints `error[CODE] location: message` and exits non-zero.

export type ErrorCode =
  // generic
  | 'E_IO' | 'E_ARG' | 'E_INTERNAL' | 'E_UNSUPPORTED'
  // an external tool (the C compiler, the OpenCL build) reported an error
  | 'E_TOOLCHAIN'
  // binary containers
  | 'E_TRUNCATED' | 'E_HEADER' | 'E_DTYPE' | 'E_OFFSETS' | 'E_SHAPE' | 'E_TOO_LARGE'
  | 'E_MAGIC' | 'E_VERSION' | 'E_GGUF_TYPE' | 'E_CHECKSUM'
  // models
  | 'E_CONFIG' | 'E_MISSING_TENSOR' | 'E_TENSOR_SHAPE' | 'E_TOKENS'
  // IR
  | 'E_SYNTAX' | 'E_VERIFY' | 'E_UNKNOWN_OP' | 'E_TYPE' | 'E_ATTR' | 'E_EVAL'
  // passes
  | 'E_PIPELINE' | 'E_PASS';

export interface Location {
  file?: string;
  /** Byte offset into a binary file. */
  offset?: number;
  /** 1-based line and column into a text file. */
  line?: number;
  column?: number;
  /** A node, tensor or key the error is about. */
  what?: string;
}

export function formatLocation(loc: Location | undefined): string {
  if (!loc) return '';
  const parts: string[] = [];
  let where = loc.file ?? '';
  if (loc.line !== undefined) where += `${where ? ':' : 'line '}${loc.line}:${loc.column ?? 1}`;
  else if (loc.offset !== undefined) where += `${where ? ' ' : ''}@byte ${loc.offset}`;
  if (where) parts.push(where);
  if (loc.what) parts.push(`(${loc.what})`);
  return parts.join(' ');
}

export class SsmcError extends Error {
  readonly code: ErrorCode;
  readonly location?: Location;
  constructor(code: ErrorCode, message: string, location?: Location, options?: { cause?: unknown }) {
    const where = formatLocation(location);
    super(where ? `${where}: ${message}` : message, options);
    this.name = 'SsmcError';
    this.code = code;
    this.location = location;
  }
}

export function isSsmcError(e: unknown): e is SsmcError {
  return e instanceof SsmcError;
}

export function fail(code: ErrorCode, message: string, location?: Location): never {
  throw new SsmcError(code, message, location);
}

// The device registry: one table per GPU family, looked up by name (the value of
// `select-layout{device=...}`, whose enum is DEVICE_NAMES).
import { SsmcError } from '../../errors.ts';
import { adreno } from './adreno.ts';
import { generic } from './generic.ts';
import { mali } from './mali.ts';
import type { DeviceDesc } from './types.ts';

export type { BufferOnly, DeviceDesc, PerKind } from './types.ts';
export { IN_PLACE_STATE } from './types.ts';
export { adreno, generic, mali };

export const DEVICE_NAMES = ['adreno', 'mali', 'generic'] as const;
export type DeviceName = (typeof DEVICE_NAMES)[number];

const devices = new Map<string, DeviceDesc>([adreno, mali, generic].map((d) => [d.name, d]));

export function getDevice(name: string): DeviceDesc {
  const d = devices.get(name);
  if (!d) throw new SsmcError('E_ARG', `unknown device '${name}'; known: ${[...devices.keys()].join(', ')}`, { what: 'device' });
  return d;
}

export function listDevices(): DeviceDesc[] {
  return [...devices.values()];
}

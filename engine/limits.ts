// The device limits every op plans with: the adapter's own limits, optionally lowered by the
// caller (`openDevice({ limits })`) or by DLLM_WGPU_LIMITS="maxStorageBufferBindingSize:65536,...".
// Lowering never changes what Dawn enforces (the device is still requested with the adapter's real
// limits); it changes what the engine and the kernels allow themselves, so tests can force every
// split path (bindings, buffers, grids) on tiny shapes on any adapter. Raising a limit is refused:
// that would turn a clear error of ours into a Dawn validation error.
// Deliberately not here: choosing kernel variants (adapter facts), anything op-specific.
import { UserError } from './errors.ts';

/** The limits the engine and the kernels read (all sizes in bytes). */
export const LIMIT_KEYS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
  'minStorageBufferOffsetAlignment',
] as const;
export type LimitKey = (typeof LIMIT_KEYS)[number];
export type Limits = Readonly<Record<LimitKey, number>>;

/** Keys a caller may lower (an alignment is a minimum: "lowering" it would loosen a rule). */
const LOWERABLE: readonly LimitKey[] = LIMIT_KEYS.filter((k) => k !== 'minStorageBufferOffsetAlignment');
/** Floors below which the engine cannot work at all (a uniform slot, one vec4 row, one workgroup). */
const FLOOR: Partial<Record<LimitKey, number>> = {
  maxStorageBufferBindingSize: 4096,
  maxBufferSize: 4096,
  maxComputeWorkgroupsPerDimension: 1,
};

export const LIMITS_ENV = 'DLLM_WGPU_LIMITS';

/** Parse "key:value,key:value" (DLLM_WGPU_LIMITS); `where` names the source in errors. */
export function parseLimits(text: string, where = LIMITS_ENV): Partial<Record<LimitKey, number>> {
  const out: Partial<Record<LimitKey, number>> = {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const m = /^([A-Za-z]+)\s*[:=]\s*(\S+)$/.exec(item);
    if (!m) {
      throw new UserError(`${where}: "${item}" is not key:value (e.g. maxStorageBufferBindingSize:65536)`);
    }
    const value = Number(m[2]);
    out[checkKey(m[1], where)] = value;
  }
  return out;
}

function checkKey(key: string, where: string): LimitKey {
  if (!(LOWERABLE as readonly string[]).includes(key)) {
    throw new UserError(`${where}: unknown limit "${key}"; valid keys: ${LOWERABLE.join(', ')}`);
  }
  return key as LimitKey;
}

/**
 * The effective limits: `adapter`'s, with each key in `lower` replaced by its (smaller) value.
 * Values must be integers, at least the engine's floor, at most the adapter's; sizes must be
 * multiples of 4 bytes.
 */
export function effectiveLimits(
  adapter: GPUSupportedLimits | Limits,
  lower: Partial<Record<string, number>> = {},
  where = LIMITS_ENV,
): Limits {
  const out = {} as Record<LimitKey, number>;
  for (const k of LIMIT_KEYS) out[k] = adapter[k];
  for (const [key, value] of Object.entries(lower)) {
    if (value === undefined) continue;
    const k = checkKey(key, where);
    const floor = FLOOR[k] ?? 1;
    const size = k === 'maxStorageBufferBindingSize' || k === 'maxBufferSize';
    if (!Number.isSafeInteger(value) || value < floor || (size && value % 4 !== 0)) {
      throw new UserError(
        `${where}: ${k} must be an integer >= ${floor}${size ? ' and a multiple of 4' : ''}, got ${value}`,
      );
    }
    if (value > adapter[k]) {
      throw new UserError(`${where}: ${k} ${value} is above this adapter's ${adapter[k]}; limits can only be lowered`);
    }
    out[k] = value;
  }
  // A binding can never be larger than a buffer.
  out.maxStorageBufferBindingSize = Math.min(out.maxStorageBufferBindingSize, out.maxBufferSize);
  return out;
}

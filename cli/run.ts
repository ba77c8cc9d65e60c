// Shared plumbing for CLI commands: turn typed errors into exit codes and messages (no stack trace
// for user errors), open the device once per command and always destroy it so the process exits.
// Commands import what they run inside their action (`await import`), so `--help` loads only
// commander and these files: start-up stays fast.
import type { LoadProgress } from '../model/io.ts';
import { readFileSync, statSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { DeviceError, EngineError, EXIT, InterruptedError, UserError } from '../engine/errors.ts';
import type { Device, DeviceOptions } from '../engine/device.ts';
import type { ParamDType } from '../model/params.ts';
import type { LLaDAModel } from '../model/llada.ts';
import type { ResolvedCheckpoint } from './checkpoint-arg.ts';

/**
 * A user-named text file (config, prompts, messages): a clear error when it is missing, a folder or
 * unreadable; a UTF-8 byte-order mark is dropped.
 */
export function readUserFile(path: string, what: string): string {
  let st;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch (e) {
    throw new UserError(`${what} ${path}: ${(e as Error).message}`);
  }
  if (!st) throw new UserError(`${what} not found: ${path}`);
  if (st.isDirectory()) throw new UserError(`${what} ${path} is a folder; give a file`);
  try {
    return readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (e) {
    throw new UserError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

export function log(msg: string): void {
  process.stderr.write(msg + '\n');
}

export async function withDevice<T>(opts: DeviceOptions, fn: (dev: Device) => Promise<T>): Promise<T> {
  const [{ openDevice }, { installHooks }] = await Promise.all([
    import('../engine/device.ts'),
    import('../kernels/elementwise/elementwise.ts'),
  ]);
  const dev = await openDevice(opts);
  try {
    installHooks(dev);
    return await fn(dev);
  } finally {
    await dev.destroy();
  }
}

/**
 * System errors that come from the user's environment, not from a bug: a full or read-only disk,
 * permissions, a missing path or one of the wrong kind. They are reported like user errors.
 */
const ENVIRONMENT_ERRNO = new Set([
  'ENOSPC',
  'EDQUOT',
  'EROFS',
  'EACCES',
  'EPERM',
  'ENOENT',
  'ENOTDIR',
  'EISDIR',
  'EEXIST',
  'ENAMETOOLONG',
  'ELOOP',
  'EMFILE',
  'ENFILE',
]);

function isEnvironmentError(e: unknown): e is NodeJS.ErrnoException {
  const x = e as NodeJS.ErrnoException;
  return e instanceof Error && typeof x.syscall === 'string' && ENVIRONMENT_ERRNO.has(x.code ?? '');
}

/** Wrap a command action: exit codes 0 ok, 1 user error, 2 internal, 3 device, 130/143 interrupted. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
      process.exitCode = EXIT.ok;
    } catch (e) {
      if (e instanceof UserError) {
        log(`error: ${e.message}`);
        process.exitCode = EXIT.user;
      } else if (isEnvironmentError(e)) {
        log(`error: ${e.message}`);
        process.exitCode = EXIT.user;
      } else if (e instanceof InterruptedError) {
        log(e.message);
        process.exitCode = e.signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
      } else if (e instanceof DeviceError) {
        log(`GPU error: ${e.message}`);
        process.exitCode = EXIT.device;
      } else if (e instanceof EngineError) {
        log(`internal error: ${e.stack ?? e.message}`);
        process.exitCode = EXIT.internal;
      } else {
        log(`internal error: ${(e as Error).stack ?? String(e)}`);
        process.exitCode = EXIT.internal;
      }
    }
  };
}

// Option parsers throw commander's InvalidArgumentError: commander then prints "error: option
// '--repeat <n>' argument '0' is invalid. <why>" and exits with EXIT.user, where a UserError
// thrown during argument parsing (before `action` can catch it) escaped as a stack trace.

/**
 * An integer option, written as decimal digits (no 0x10, 1e2 or 1.0), within the safe integers; with
 * `min`, values below it are refused too (e.g. a count of repetitions).
 */
export function parseIntOpt(name: string, min?: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*[+-]?\d+\s*$/.test(v)) throw new InvalidArgumentError(`${name} expects an integer, got "${v}"`);
    if (min !== undefined && n < min) throw new InvalidArgumentError(`${name} expects an integer >= ${min}, got ${v}`);
    if (n > max) throw new InvalidArgumentError(`${name} expects an integer <= ${max}, got ${v}`);
    return n;
  };
}

export function parseFloatOpt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} expects a number, got "${v}"`);
    return n;
  };
}

/** `--dtype`: bfloat16 | float16 | float32 (or bf16, f16, f32), or auto = the checkpoint's own. */
export function parseDtypeOpt(v: string): ParamDType | 'auto' {
  // The names model/io.ts's parseDtype takes, spelled out here: --help must not load the model code.
  const names: Record<string, ParamDType | 'auto'> = {
    auto: 'auto',
    bfloat16: 'bf16',
    float16: 'f16',
    float32: 'f32',
    bf16: 'bf16',
    f16: 'f16',
    f32: 'f32',
  };
  if (Object.hasOwn(names, v)) return names[v];
  throw new InvalidArgumentError(`unknown dtype "${v}"; use bfloat16, float16, float32 or auto`);
}

export const DTYPE_HELP = "storage of the weight matrices: bfloat16 | float16 | float32 | auto (the checkpoint's own)";

/** Checkpoint loading progress on stderr: bytes, rate and ETA, at most every 10% and every 2 s. */
export function loadProgress(dir: string): (p: LoadProgress) => void {
  let shownPct = 0,
    shownAt = 0;
  return (p) => {
    const pct = Math.floor((p.bytes * 10) / p.total) * 10;
    if (p.total < 64 << 20 || (pct <= shownPct && p.seconds - shownAt < 2 && p.bytes < p.total)) return;
    shownPct = pct;
    shownAt = p.seconds;
    const rate = p.bytes / Math.max(p.seconds, 1e-3);
    const eta = (p.total - p.bytes) / rate;
    const gb = (b: number) => (b / 1e9).toFixed(2);
    log(
      `loading ${dir}: ${gb(p.bytes)}/${gb(p.total)} GB (${pct}%), ${(rate / 1e6).toFixed(0)} MB/s, ETA ${eta.toFixed(0)} s`,
    );
  };
}

/**
 * The model a resolved `--checkpoint` names, on `dev`, in `dtype` (auto: the checkpoint's own), with
 * its LoRA adapter (`adapter`, else the LoRA run folder's) applied unmerged and logged; disposed again
 * if the adapter does not fit it. For sample, eval and serve.
 */
export async function loadCheckpointModel(
  dev: Device,
  ck: ResolvedCheckpoint,
  o: { dtype: ParamDType | 'auto'; adapter?: string },
): Promise<LLaDAModel> {
  const { loadModel } = await import('../model/io.ts');
  const model = await loadModel(ck.dir, {
    device: dev,
    dtype: o.dtype === 'auto' ? undefined : o.dtype,
    onProgress: loadProgress(ck.dir),
  });
  const adapter = o.adapter ?? ck.adapter;
  if (!adapter) return model;
  try {
    const { loadAdapter } = await import('../model/lora-io.ts');
    const lora = loadAdapter(model, adapter);
    log(`LoRA adapter ${adapter}: ${lora.modules.size} modules, ${lora.count} parameters (not merged)`);
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

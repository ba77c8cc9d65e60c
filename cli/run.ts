// Shared plumbing for CLI commands: turn typed errors into exit codes and messages (no stack trace
// for user errors), open the device once per command and always destroy it so the process exits.
// Commands import what they run inside their action (`await import`), so `--help` loads only
// commander and these files: start-up stays fast.
import type { LoadProgress } from '../model/io.ts';
import { InvalidArgumentError } from 'commander';
import { DeviceError, EngineError, EXIT, UserError } from '../engine/errors.ts';
import type { Device, DeviceOptions } from '../engine/device.ts';
import type { ParamDType } from '../model/params.ts';

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

/** Wrap a command action: exit codes 0 ok, 1 user error, 2 internal, 3 device. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
      process.exitCode = EXIT.ok;
    } catch (e) {
      if (e instanceof UserError) {
        log(`error: ${e.message}`);
        process.exitCode = EXIT.user;
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

/** An integer option; with `min`, values below it are refused too (e.g. a count of repetitions). */
export function parseIntOpt(name: string, min?: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} expects an integer, got "${v}"`);
    if (min !== undefined && n < min) throw new InvalidArgumentError(`${name} expects an integer >= ${min}, got ${n}`);
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

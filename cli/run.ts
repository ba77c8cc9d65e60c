// Shared plumbing for CLI commands: turn typed errors into exit codes and messages (no stack trace
// for user errors), open the device once per command and always destroy it so the process exits.
import { DeviceError, EngineError, EXIT, UserError } from '../engine/errors.ts';
import { openDevice, type Device, type DeviceOptions } from '../engine/device.ts';
import { installHooks } from '../kernels/elementwise/elementwise.ts';

export function log(msg: string): void {
  process.stderr.write(msg + '\n');
}

export async function withDevice<T>(opts: DeviceOptions, fn: (dev: Device) => Promise<T>): Promise<T> {
  const dev = await openDevice(opts);
  installHooks(dev);
  try {
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

export function parseIntOpt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new UserError(`${name} expects an integer, got "${v}"`);
    return n;
  };
}

export function parseFloatOpt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UserError(`${name} expects a number, got "${v}"`);
    return n;
  };
}

/** Progress while a checkpoint loads: a line every 10% of its tensors (large models take a while). */
export function loadProgress(dir: string): (name: string, i: number, n: number) => void {
  let shown = 0;
  return (_name, i, n) => {
    const pct = Math.floor(((i + 1) * 10) / n) * 10;
    if (n >= 20 && pct > shown) {
      shown = pct;
      log(`loading ${dir}: ${pct}% of ${n} tensors`);
    }
  };
}

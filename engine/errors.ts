// Typed errors. UserError: bad input from the user (config, data, checkpoint, prompt, CLI flag);
// the CLI prints its message without a stack trace and exits 1. EngineError: misuse of the engine
// API (shape/dtype mismatch, use after dispose): names the op and the shapes. DeviceError: the GPU
// failed (validation, out-of-memory, device loss); the CLI exits with a distinct code.
// Deliberately no error codes as strings scattered around: the class is the category.

export class UserError extends Error {
  override name = 'UserError';
}

export class EngineError extends Error {
  override name = 'EngineError';
}

export class DeviceError extends Error {
  override name = 'DeviceError';
  constructor(
    message: string,
    readonly kind: 'validation' | 'out-of-memory' | 'lost' | 'internal' = 'internal',
  ) {
    super(message);
  }
}

/** Training stopped by SIGINT/SIGTERM after saving its state: exit 128 + the signal number. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor(
    message: string,
    readonly signal: 'SIGINT' | 'SIGTERM',
  ) {
    super(message);
  }
}

/** Exit codes shared by the CLI: 1 user error, 2 internal, 3 device lost / GPU failure, 130/143 interrupted. */
export const EXIT = { ok: 0, user: 1, internal: 2, device: 3, sigint: 130, sigterm: 143 } as const;

// Ctrl-C and SIGTERM while a run folder is held. Outside the training loop a signal ends the
// process at once (exit 130 / 143, the shell's 128 + signal number), after the process 'exit' hook
// has released the run lock. Inside the loop the first signal asks the loop to finish its step and
// save a checkpoint; a second one exits at once (a checkpoint being written is left as a `.tmp-`
// folder, which the next run removes: checkpoints are committed by rename, never half-visible).
// Deliberately not here: the checkpoint itself (train/run.ts saves it through the loop's hook).

export type StopSignal = 'SIGINT' | 'SIGTERM';

export const SIGNAL_EXIT: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

interface Graceful {
  requested: StopSignal | null;
  notify(sig: StopSignal): void;
}

let graceful: Graceful | null = null;
let holders = 0;

function onSignal(sig: StopSignal): void {
  if (graceful && !graceful.requested) {
    graceful.requested = sig;
    graceful.notify(sig);
    return;
  }
  process.exit(SIGNAL_EXIT[sig]);
}

/** Installs the handlers while at least one holder needs them; the returned function uninstalls. */
export function holdSignals(): () => void {
  if (holders++ === 0) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--holders === 0) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  };
}

/**
 * Within `fn`, the first SIGINT/SIGTERM is recorded instead of ending the process; `requested()`
 * tells the loop. `notify` runs when it arrives (to print what happens next).
 */
export async function withGracefulStop<T>(
  notify: (sig: StopSignal) => void,
  fn: (requested: () => StopSignal | null) => Promise<T>,
): Promise<T> {
  const release = holdSignals();
  const g: Graceful = { requested: null, notify };
  const outer = graceful;
  graceful = g;
  try {
    return await fn(() => g.requested);
  } finally {
    graceful = outer;
    release();
  }
}

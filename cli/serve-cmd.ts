// `dllm-wgpu serve`: loads a checkpoint (± a LoRA adapter) once and answers OpenAI-style HTTP
// requests with it (serve/server.ts) until SIGINT/SIGTERM: then it stops accepting, answers waiting
// requests 503, lets the running batch finish and exits 0; a second signal stops the batch at its
// next step. Binds to loopback unless --host says otherwise.
import { basename, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { DeviceOptions } from '../engine/device.ts';
import { UserError } from '../engine/errors.ts';
import { action, DTYPE_HELP, loadCheckpointModel, log, parseDtypeOpt, parseIntOpt, withDevice } from './run.ts';
import { resolveCheckpointArg } from './checkpoint-arg.ts';
import { trainedGenLength } from './sample-cmd.ts';
import type { ParamDType } from '../model/params.ts';

interface ServeFlags {
  checkpoint: string;
  adapter?: string;
  dtype: ParamDType | 'auto';
  host: string;
  port: number;
  maxBatch: number;
  maxQueue: number;
  maxBody: number;
  maxGenLength?: number;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, kib: 1024, mib: 1024 ** 2 };

/** `--max-body`: bytes, or a size such as 512KiB, 1MiB, 2MB. */
export function parseSize(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v);
  const unit = m?.[2].toLowerCase() ?? '';
  if (!m || !Object.hasOwn(UNITS, unit) || !(Number(m[1]) * UNITS[unit] >= 1))
    throw new InvalidArgumentError(`--max-body expects a size such as 1048576, 512KiB or 1MiB, got "${v}"`);
  return Math.floor(Number(m[1]) * UNITS[unit]);
}

export function registerServe(program: Command, deviceOpts: () => DeviceOptions): void {
  program
    .command('serve')
    .description(
      'an OpenAI-compatible HTTP API (GET /v1/models, POST /v1/completions and /v1/chat/completions, streamed or not) over one checkpoint, batching concurrent requests',
    )
    .requiredOption('--checkpoint <dir>', 'model folder or training run folder (its newest complete checkpoint)')
    .option('--adapter <dir>', 'apply a LoRA adapter (PEFT layout) without merging')
    .option('--dtype <type>', DTYPE_HELP, parseDtypeOpt, 'auto')
    .option(
      '--host <addr>',
      'address to bind (loopback by default; 0.0.0.0 exposes the server to the network)',
      '127.0.0.1',
    )
    .option('--port <n>', 'TCP port (0 = any free port, printed)', parseIntOpt('--port', 0, 65535), 8080)
    .option('--max-batch <n>', 'rows (prompts x n) one batch may hold', parseIntOpt('--max-batch', 1), 16)
    .option(
      '--max-queue <n>',
      'requests that may wait for a batch; more are answered 429',
      parseIntOpt('--max-queue', 0),
      64,
    )
    .option(
      '--max-body <size>',
      'largest request body (bytes, or KiB/MiB); larger is answered 413',
      parseSize,
      1024 ** 2,
    )
    .option(
      '--max-gen-length <n>',
      "largest max_tokens a request may ask for (default: what fits after its prompt in the model's max_sequence_length)",
      parseIntOpt('--max-gen-length', 1),
    )
    .action(
      action(async (o: ServeFlags) => {
        const ck = resolveCheckpointArg(o.checkpoint);
        if (ck.note) log(ck.note);
        const { startServer } = await import('../serve/server.ts');
        await withDevice(deviceOpts(), async (dev) => {
          const model = await loadCheckpointModel(dev, ck, o);
          try {
            const trained = await trainedGenLength(ck.dir);
            const srv = startServer(model, {
              modelId: basename(resolve(o.checkpoint)),
              maxBatch: o.maxBatch,
              maxQueue: o.maxQueue,
              maxBody: o.maxBody,
              maxGenLength: o.maxGenLength,
              defaultGenLength: trained ?? 128,
              checkpointDir: ck.dir,
              adapter: model.lora !== null,
            });
            await new Promise<void>((ok, fail) => {
              srv.http.once('error', (e: NodeJS.ErrnoException) =>
                fail(
                  e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL'
                    ? new UserError(`cannot listen on ${o.host}:${o.port}: ${e.code} (--host / --port to choose)`)
                    : e,
                ),
              );
              srv.http.listen(o.port, o.host, ok);
            });
            const addr = srv.http.address();
            const port = typeof addr === 'object' && addr ? addr.port : o.port;
            const host = o.host.includes(':') ? `[${o.host}]` : o.host;
            log(
              `model ${basename(resolve(o.checkpoint))}: default gen length ${trained ?? 128}${trained ? ' (trained)' : ''}, cut to fit the context`,
            );
            log(`listening on http://${host}:${port} (Ctrl-C to stop)`);
            await new Promise<void>((done) => {
              let signals = 0;
              const onSignal = (sig: NodeJS.Signals) => {
                if (++signals > 1) {
                  log(`${sig} again: stopping the running batch`);
                  srv.abort();
                  return;
                }
                log(`${sig}: finishing the running batch, refusing new requests (again to stop at once)`);
                void srv.shutdown().then(done);
              };
              process.on('SIGINT', onSignal);
              process.on('SIGTERM', onSignal);
            });
            log('stopped');
          } finally {
            model.dispose();
          }
        });
      }),
    );
}

// `dllm-wgpu bench [kernels|train|sample|startup|all|scale]`: figures side by side with peers
// measured in the same run (TF.js WebGPU, gpu.js, PyTorch CPU). Each case is checked against the CPU
// reference once, then timed. --json prints one object per case. `scale` (a real-size LLaDA: write,
// load, sample) is never part of `all`: at full size it takes the better part of an hour on a CPU adapter.
import { Argument, Option, type Command } from 'commander';
import type { DeviceOptions } from '../engine/device.ts';
import { UserError } from '../engine/errors.ts';
import { action, log, parseIntOpt, withDevice } from './run.ts';
import type { BenchResult } from '../bench/harness.ts';
import { PRESET_NAMES, SCALE_LORA, type ScalePresetName } from '../bench/scale-presets.ts';

const SERVE_MAX_CLIENTS = 256; // bench/serve.ts's bound, spelled here so --help loads no bench code

interface BenchFlags {
  json: boolean;
  peers: boolean;
  repeat: number;
  checkpoint?: string;
  sampleLimit: number;
  report?: string;
  preset?: string;
  layers?: number;
  out?: string;
  lora?: boolean;
  clients?: number;
  seconds?: number;
}

export function registerBench(program: Command, deviceOpts: () => DeviceOptions): void {
  program
    .command('bench')
    .description(
      "benchmarks (not tests): kernels, a training step (then its matmul shapes one by one and the adapter's fma ceiling), sampling, CLI start-up; --peers adds TF.js WebGPU, gpu.js and PyTorch CPU measured in the same run;\n" +
        '`scale` writes a random-weight LLaDA checkpoint of real size (once), loads it and samples (not part of all);\n' +
        '`scale --lora` runs LoRA training steps on it instead of sampling;\n' +
        '`serve`: the HTTP server on loopback, N concurrent streaming clients against the same requests one by one (not part of all)',
    )
    .addArgument(
      new Argument('[section]', 'kernels | train | sample | startup | all | scale | serve')
        .choices(['kernels', 'train', 'sample', 'startup', 'all', 'scale', 'serve'])
        .default('all'),
    )
    .option('--json', 'one JSON object per case on stdout', false)
    .option('--peers', 'also run the peers on the same adapter', false)
    .option('--repeat <n>', 'timed repetitions per case (after a warm-up)', parseIntOpt('--repeat', 1), 10)
    .option(
      '--checkpoint <dir>',
      'sample: trained long-generation model (examples/sort-long.toml; default: newest in runs/sort-long); serve: the model to serve (default: newest in runs/addition, else a random one of its shape)',
    )
    .option('--report <file.md>', 'also write a Markdown report and an SVG chart (ours vs peers) beside it')
    .addOption(
      new Option('--sample-limit <n>', 'held-out prompts of the trained model decoded per sample setting (0 = all)')
        .argParser(parseIntOpt('--sample-limit', 0))
        .default(0),
    )
    .addOption(
      new Option(
        '--preset <name>',
        "scale: model shape, LLaDA-8B-Base's, LLaDA 1B's (LLaDA paper) or a tiny one (default: llada-8b)",
      ).choices(PRESET_NAMES),
    )
    .option('--layers <n>', "scale: depth, 1 to the preset's (default: the preset's)", parseIntOpt('--layers', 1))
    .option(
      '--out <dir>',
      'scale: checkpoint folder, written once and reused (default: $XDG_CACHE_HOME or ~/.cache, dllm-wgpu/scale-<preset>-L<layers>)',
    )
    .option(
      '--lora',
      `scale: instead of sampling, ${SCALE_LORA.steps} LoRA training steps (rank 8 on q/k/v/attn_out, frozen bf16 base, ` +
        `batch ${SCALE_LORA.batch} x ${SCALE_LORA.seqLength} tokens, recomputation on): s/step, peak RSS, GPU memory`,
    )
    .option(
      '--clients <n>',
      `serve: concurrent streaming clients, 1-${SERVE_MAX_CLIENTS} (default 16)`,
      parseIntOpt('--clients', 1, SERVE_MAX_CLIENTS),
    )
    .option('--seconds <n>', 'serve: time limit of each phase (default 300)', parseIntOpt('--seconds', 1))
    .action(
      action(async (section: string, o: BenchFlags) => {
        const scaleFlags = ['preset', 'layers', 'out', 'lora'] as const;
        const stray = scaleFlags.filter((f) => o[f] !== undefined);
        if (section !== 'scale' && stray.length) {
          throw new UserError(`--${stray[0]} applies to \`bench scale\` only (section here: ${section})`);
        }
        const serveStray = (['clients', 'seconds'] as const).filter((f) => o[f] !== undefined);
        if (section !== 'serve' && serveStray.length)
          throw new UserError(`--${serveStray[0]} applies to \`bench serve\` only (section here: ${section})`);
        const preset = (o.preset ?? 'llada-8b') as ScalePresetName;
        const { printTable } = await import('../bench/harness.ts');
        const { benchAdamw, benchAttention, benchMatmul, benchXent } = await import('../bench/kernels.ts');
        const { benchTrain } = await import('../bench/train.ts');
        const { benchSampleCost, benchSampleTrained, defaultCheckpoint } = await import('../bench/sample.ts');
        const { loadPeers } = await import('../bench/peers.ts');
        const { writeReport } = await import('../bench/report.ts');
        const { benchStartup } = await import('../bench/startup.ts');
        const { benchScale, scaleLayers } = await import('../bench/scale.ts');
        if (section === 'scale') scaleLayers(preset, o.layers); // bad flags fail before the device opens
        if (section === 'startup') {
          // No device needed: it times fresh CLI processes.
          const rs = benchStartup(o.repeat, log);
          if (o.json) for (const r of rs) process.stdout.write(JSON.stringify(r) + '\n');
          else printTable(rs);
          return;
        }
        await withDevice(deviceOpts(), async (dev) => {
          log(
            `bench on ${dev.facts.description || dev.facts.device}; timestamps: ${dev.facts.features.has('timestamp-query') ? 'yes' : 'no (wall time only)'}`,
          );
          const peers = o.peers ? await loadPeers(log) : null;
          const all: BenchResult[] = [];
          const emit = (rs: BenchResult[]) => {
            all.push(...rs);
            if (o.json) for (const r of rs) process.stdout.write(JSON.stringify(r) + '\n');
            else printTable(rs);
          };
          const want = (s: string) => section === 'all' || section === s;
          let mm1024: number | undefined;
          if (want('kernels')) {
            const mm = await benchMatmul(dev, o.repeat, peers);
            mm1024 = mm.find((r) => r.case === 'matmul 1024^3')?.gflops;
            emit(mm);
            emit(await benchAttention(dev, o.repeat, peers));
            emit(await benchXent(dev, Math.max(2, Math.ceil(o.repeat / 3)), peers));
            emit(await benchAdamw(dev, o.repeat));
          }
          if (want('train')) {
            if (mm1024 === undefined) {
              const mm = await benchMatmul(dev, 3, null);
              mm1024 = mm.find((r) => r.case === 'matmul 1024^3')?.gflops;
            }
            emit(await benchTrain(dev, o.repeat, mm1024, o.peers, log));
            const { benchTrainMemory } = await import('../bench/train-memory.ts');
            emit(await benchTrainMemory(dev, Math.min(o.repeat, 3), log));
          }
          if (want('sample')) {
            emit(await benchSampleCost(dev, o.repeat, log));
            const ckpt = o.checkpoint ?? defaultCheckpoint();
            emit(await benchSampleTrained(dev, ckpt, o.checkpoint !== undefined, o.sampleLimit, log));
          }
          if (want('startup')) emit(benchStartup(o.repeat, log));
          if (section === 'serve') {
            const { benchServe } = await import('../bench/serve.ts');
            // A model folder or a run folder (its newest complete checkpoint), as `serve` takes it.
            let checkpoint: string | undefined;
            if (o.checkpoint !== undefined) {
              const { resolveCheckpointArg } = await import('./checkpoint-arg.ts');
              const ck = resolveCheckpointArg(o.checkpoint);
              if (ck.adapter)
                throw new UserError(
                  `bench serve serves a base model; ${o.checkpoint} is a LoRA adapter: give its base`,
                );
              if (ck.note) log(ck.note);
              checkpoint = ck.dir;
            }
            emit(
              await benchServe(dev, {
                checkpoint,
                clients: o.clients ?? 16,
                seconds: o.seconds ?? 300,
                log,
              }),
            );
          }
          if (section === 'scale' && o.lora) {
            const { benchScaleLora } = await import('../bench/scale-lora.ts');
            emit(await benchScaleLora(dev, { preset, layers: o.layers, out: o.out, log }));
          } else if (section === 'scale') {
            emit(await benchScale(dev, { preset, layers: o.layers, out: o.out, repeat: o.repeat, log }));
          }
          if (!o.json) {
            for (const r of all.filter((x) => x.extra)) log(`${r.case}: ${JSON.stringify(r.extra)}`);
          }
          if (o.report) {
            writeReport(o.report, all, {
              command: `dllm-wgpu ${process.argv.slice(2).join(' ')}`,
              adapter: dev.facts.description || dev.facts.device,
            });
            log(`report written: ${o.report}`);
          }
        });
      }),
    );
}

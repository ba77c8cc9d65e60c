// dllm-wgpu command line: wires commands to library functions. The only place that knows flags
// and TOML. Progress goes to stderr, results to stdout; exit 0 ok, 1 user error, 2 internal,
// 3 GPU/device failure.
import { Command, Option } from 'commander';
import { action, parseIntOpt, withDevice } from './run.ts';
import type { DeviceOptions } from '../engine/device.ts';
import { UserError } from '../engine/errors.ts';

const program = new Command();
program
  .name('dllm-wgpu')
  .description(
    'Fine-tune and sample LLaDA-style masked diffusion language models on a from-scratch WebGPU engine.\n' +
      'GPU choice: --backend / --adapter before the command, or DLLM_WGPU_BACKEND / DLLM_WGPU_ADAPTER.\n' +
      'Kernel variants: chosen per adapter (`info` lists them); --kernels / DLLM_WGPU_KERNELS force some.',
  )
  .version('0.1.0')
  .addOption(
    new Option('--backend <name>', 'Dawn backend: vulkan, metal, d3d12, d3d11, opengl').env('DLLM_WGPU_BACKEND'),
  )
  .addOption(new Option('--adapter <name>', 'adapter name as Dawn lists it').env('DLLM_WGPU_ADAPTER'))
  .addOption(
    new Option(
      '--kernels <list>',
      'force kernel variants, e.g. matmul:tiled,attention:portable (`info` lists them)',
    ).env('DLLM_WGPU_KERNELS'),
  )
  // Global options go before the command: `sample --adapter DIR` is a LoRA adapter, `--adapter NAME sample` the GPU.
  .enablePositionalOptions()
  .showHelpAfterError();

export function deviceOpts(): DeviceOptions {
  const o = program.opts<{ backend?: string; adapter?: string; kernels?: string }>();
  return { backend: o.backend, adapter: o.adapter, kernels: o.kernels };
}

program
  .command('info')
  .description(
    'print the WebGPU adapter, backend, limits and features, and the kernel variant each op runs, after a smoke dispatch',
  )
  .option('--json', 'machine-readable output', false)
  .action(
    action(async (o: { json: boolean }) => {
      const { infoReport, printInfo } = await import('./info.ts');
      const r = await withDevice(deviceOpts(), infoReport);
      if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else printInfo(r);
    }),
  );

program
  .command('fuzz')
  .description('run the kernel property tests (GPU vs CPU reference) with many cases for a time budget')
  .option('--seconds <n>', 'time budget in seconds', parseIntOpt('--seconds', 1), 60)
  .option('--seed <n>', 'base seed (printed when omitted; replays a reported failure)', parseIntOpt('--seed'))
  .option('--kernel <name>', 'only this spec or kernel (e.g. matmul, attention, elementwise.add)')
  .option('--runs <n>', 'cases per spec per round', parseIntOpt('--runs', 1), 25)
  .action(
    action(async (o: { seconds: number; seed?: number; kernel?: string; runs: number }) => {
      const { fuzz } = await import('./fuzz.ts');
      const { openDevice } = await import('../engine/device.ts');
      const r = await withDevice(deviceOpts(), (dev) =>
        fuzz(dev, o, (kernels) => openDevice({ ...deviceOpts(), kernels })),
      );
      if (r.failures) throw new UserError(`${r.failures} kernel properties failed (replay seeds above)`);
    }),
  );

const extra = await import('./commands.ts').catch((e: Error) => {
  if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && /commands\.[jt]s/.test(e.message)) return null;
  throw e;
});
extra?.register(program, deviceOpts);

await program.parseAsync(process.argv);

// Asks Dawn for a WebGPU adapter and prints "<vendor> <architecture> <description>" on stdout.
// Exit 0 when an adapter is found, 1 otherwise. Used by scripts/setup.sh; no project code needed.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('requestAdapter() returned null');
  process.exit(1);
}
const i = adapter.info ?? {};
console.log([i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ') || 'unknown adapter');
process.exit(0);

#!/usr/bin/env node
// dllm-wgpu entry point: runs the TypeScript CLI through tsx's loader (Node 20 cannot strip types),
// so what runs is exactly the source in the repository.
import { register } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';
process.env.XDG_RUNTIME_DIR ??= '/tmp'; // lavapipe warns on every start without it
register();
// CommonJS too: the bench loads TF.js's gradient registrations (extensionless requires) this way.
registerCjs();
await import('../cli/main.ts');

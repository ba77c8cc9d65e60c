#!/usr/bin/env node
// dllm-wgpu from the TypeScript sources, for development (`npm run dev -- <command>`): tsx compiles
// on the fly, and the WGSL string modules are regenerated first, so an edit to a .ts or .wgsl file
// runs without `npm run build`. Slower to start than bin/dllm-wgpu.js, which runs dist/.
import { register } from 'tsx/esm/api';
import { generateWgslModules } from '../scripts/wgsl-modules.mjs';

process.env.XDG_RUNTIME_DIR ??= '/tmp'; // lavapipe warns on every start without it
generateWgslModules();
register();
await import('../cli/main.ts');

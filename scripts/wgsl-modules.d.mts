// Types of scripts/wgsl-modules.mjs for the TypeScript files that import it (tests, nothing shipped).
export interface ExpandedWgsl {
  file: string;
  code: string;
  includes: { start: number; file: string }[];
}
export function expandWgsl(path: string, root?: string): ExpandedWgsl;
export function wgslModule(path: string, root?: string): string;
export function generateWgslModules(root?: string): string[];

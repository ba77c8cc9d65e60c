// ESLint: typescript-eslint's recommended type-checked rules over the TypeScript sources.
// Formatting is Prettier's job (npm run lint runs prettier --check), so no style rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'dist.tmp/', 'runs/', '**/*.js', '**/*.mjs', '**/*.wgsl.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
);

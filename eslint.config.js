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
    rules: {
      // Messages interpolate shapes (number arrays print as 2,3,4) and Tensors (toString: name, dtype, shape).
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowNumber: true,
          allowArray: true,
          allow: [
            { from: 'lib', name: ['Error', 'URL', 'URLSearchParams'] },
            { from: 'file', name: 'Tensor', path: 'engine/tensor.ts' },
          ],
        },
      ],
      // `const { dropped: _, ...rest } = o` is how the code copies an object without a key.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
);

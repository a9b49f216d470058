import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const coreFolders = [
  'src/cvmfs/**',
  'src/manifest/**',
  'src/packages/debian/**',
  'src/pipeline/**',
  'src/plan/**',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'demo/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'execa', message: 'Only src/exec may run processes.' },
            { name: 'simple-git', message: 'Only src/git may talk to git.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/exec/**', 'test/**', 'bench/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // The one place that talks to git (simple-git), and only to git.
    files: ['src/git/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'execa', message: 'Only src/exec may run processes.' }] },
      ],
    },
  },
  {
    // The pure core never touches the file system or processes.
    files: coreFolders,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            'node:fs',
            'node:fs/promises',
            'node:child_process',
            'execa',
            'simple-git',
            '@actions/core',
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);

import { defineConfig } from 'vitest/config';

// Unit tests (test/internals) run in parallel; process-level tests spawn real
// clusters and run one file at a time so they do not fight over 2 cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/internals/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/*.test.ts'],
          globalSetup: ['test/setup/packed-dir.ts'],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});

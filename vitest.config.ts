import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Two cores: one VM per worker keeps TCG guests from starving each other.
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      // Recorded streams and pure code only: builds nothing, boots nothing.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Every kernel the e2e files boot is built here, before any VM starts: builds and TCG guests
          // on the same two cores starve each other.
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // e2e files boot real VMs; the kernel and guest are built once, before any test runs.
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: one VM per worker keeps TCG guests from starving each other.
    maxWorkers: 2,
    minWorkers: 1,
  },
});

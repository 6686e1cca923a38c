import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: integration tests start redis-servers, workers and browsers; run files one by one
    // so they never fight each other for CPU and fail on timeouts.
    fileParallelism: false,
    pool: 'forks',
  },
});

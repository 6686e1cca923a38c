import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // test/ mirrors the code: commands/, queue/, worker/, diffusion/ (worker/diffusion),
    // adapters/<platform>/, core/ (the rest of src/: kv, results, config, delivery, redis),
    // e2e/ (whole stacks and processes), deploy/ (manifests, install, README checks), kit/ (the
    // shared fixtures' own checks). Helpers only tests use live in test/support/; fixtures the
    // benchmarks share too live in kit/ at the root, so bench/ never imports test/.
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: integration tests start redis-servers, workers and browsers; run files one by one
    // so they never fight each other for CPU and fail on timeouts.
    fileParallelism: false,
    pool: 'forks',
  },
});

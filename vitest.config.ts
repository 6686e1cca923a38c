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
    // expect.poll waits for something to happen (a mask stored, a message edited); its 1 s default
    // is shorter than a loaded two-core machine takes to run a request through a browser and a
    // worker. A poll that is going to pass passes as soon as it can, so the long limit costs
    // nothing; a test that must prove something does NOT happen says so without poll.
    expect: { poll: { timeout: 30_000 } },
    // Two cores: integration tests start redis-servers, workers and browsers; run files one by one
    // so they never fight each other for CPU and fail on timeouts.
    fileParallelism: false,
    pool: 'forks',
  },
});

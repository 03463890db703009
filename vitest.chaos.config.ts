import { defineConfig } from 'vitest/config';

// The chaos suite (`npm run test:chaos`): long fault-injection runs against real worker processes,
// Redis, an S3 server and a webhook receiver. Kept out of `npm test` (its files are *.chaos.ts).
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 60 * 60_000,
    hookTimeout: 300_000,
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    typecheck: { enabled: false },
    // `npm test` (vitest run) runs both projects: `main` first, then `distributed`.
    // Run one with `npx vitest run --project main` or `--project distributed`.
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: ['test/distributed/**', '**/node_modules/**'],
          fileParallelism: true,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'distributed',
          include: ['test/distributed/**/*.test.ts'],
          // The fault tests kill processes and restart RabbitMQ (stop_app/start_app),
          // which would cut every other suite using the broker: one file at a time,
          // and only after the `main` project has finished (groups run in order).
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Distributed tests restart shared services (RabbitMQ); they serialise themselves by file.
    fileParallelism: true,
    pool: 'forks',
    typecheck: { enabled: false },
  },
});

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Finds (or starts) the PostgreSQL server; see the file.
    globalSetup: ["test/global-setup.ts"],
    // Crash tests start real child processes and wait for lease expiry.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Test files share the machine's two cores with child processes; keep the pool small.
    maxWorkers: 2,
  },
});

import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Test files written as an application writes them (test/testing/runners/order.vitest.test.ts,
  // shown in docs/testing.md) import the package by name: here that is the source.
  resolve: {
    alias: [
      { find: /^trellis\/testing$/, replacement: fileURLToPath(new URL("src/testing/index.ts", import.meta.url)) },
      { find: /^trellis$/, replacement: fileURLToPath(new URL("src/index.ts", import.meta.url)) },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // Type tests (*.test-d.ts): compiled by tsc, each @ts-expect-error and
    // expectTypeOf checked, as part of the same run.
    typecheck: { enabled: true, include: ["test/**/*.test-d.ts"], tsconfig: "tsconfig.json" },
    // Finds (or starts) the PostgreSQL server; see the file.
    globalSetup: ["test/global-setup.ts"],
    // Crash tests start real child processes and wait for lease expiry.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Test files share the machine's two cores with child processes; keep the pool small.
    maxWorkers: 2,
  },
});

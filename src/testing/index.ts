/**
 * trellis/testing: deterministic tests of workflows, from any test runner
 * (vitest, Jest, `node:test`): a real runtime on a throwaway SQLite file (or
 * a fresh PostgreSQL schema), a fake clock that fires timers, retries and
 * timeouts when advanced, `runUntilIdle`, crashes of a chosen attempt, and
 * short reads of a run's story. See docs/testing.md.
 *
 * @example
 * import { createTestRuntime } from "trellis/testing";
 *
 * const env = await createTestRuntime();
 * env.rt.registerPackage(myPackage);
 * const { id } = await env.rt.startRun(myPackage, input);
 * await env.runUntilIdle();      // runs what is due now
 * await env.advance(60_000);     // a minute later: a sleep or a retry comes due
 * await env.runUntilIdle();
 * await env.close();
 *
 * @module
 */
export { createTestRuntime, TestRuntime, type TestRuntimeOptions, type RunUntilIdleOptions, type RunUntilSettledOptions, type LoggedLine } from "./test-runtime.js";
export { FakeClock, DEFAULT_START } from "./fake-clock.js";
export type { Crash, CrashOptions, CrashTarget } from "./crash-store.js";

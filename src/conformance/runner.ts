/**
 * The test runner the conformance suites register with, chosen by whoever
 * calls `describeStoreConformance` (or the artifact and projection suites):
 * vitest's module, Jest's globals, or `node:test` with the `expect` package.
 * The suites import `describe`, `it`, `beforeEach`, `afterEach` and `expect`
 * from here rather than from a runner, so `trellis/conformance` loads in ESM
 * and CommonJS and imports no runner itself.
 *
 * One runner per process: the suites' test bodies run after registration, so
 * the functions below forward to the runner installed last (a process runs
 * one test runner).
 */
import { ErrorCodes, WorkflowError } from "../errors.js";

/** A test body or hook: what the runner calls. */
export type TestBody = () => unknown;

/** What an assertion offers the suites: the Jest-compatible matchers they use. */
export interface ConformanceMatchers {
  toBe(expected: unknown): unknown;
  toEqual(expected: unknown): unknown;
  toMatchObject(expected: object): unknown;
  toContain(expected: unknown): unknown;
  toHaveLength(length: number): unknown;
  toMatch(expected: string | RegExp): unknown;
  toBeDefined(): unknown;
  toBeUndefined(): unknown;
  toBeInstanceOf(expected: unknown): unknown;
  toBeGreaterThan(n: number | bigint): unknown;
  toBeGreaterThanOrEqual(n: number | bigint): unknown;
  toBeLessThan(n: number | bigint): unknown;
  toBeLessThanOrEqual(n: number | bigint): unknown;
  readonly not: ConformanceMatchers;
  readonly rejects: ConformanceAsyncMatchers;
  readonly resolves: ConformanceAsyncMatchers;
}

/** The matchers of `.rejects` / `.resolves`: the same, awaited. */
export type ConformanceAsyncMatchers = { [K in keyof ConformanceMatchers]: ConformanceMatchers[K] extends (...args: infer A) => unknown ? (...args: A) => Promise<unknown> : ConformanceAsyncMatchers };

/** A Jest-compatible `expect`: vitest's, Jest's, or the `expect` package's (for `node:test`). */
export interface ConformanceExpect {
  (actual: unknown): ConformanceMatchers;
  stringMatching(expected: string | RegExp): unknown;
  objectContaining(expected: Record<string, unknown>): unknown;
  arrayContaining(expected: readonly unknown[]): unknown;
  any(constructor: unknown): unknown;
}

/**
 * The runner functions the suites need. vitest: `import * as vitest from
 * "vitest"` and pass `vitest`. Jest: omit it (its globals are used). `node:test`:
 * `{ describe, it, beforeEach, afterEach }` from `node:test` and `expect` from the
 * `expect` package.
 */
export interface ConformanceRunner {
  describe(name: string, fn: () => void): unknown;
  it(name: string, fn: TestBody): unknown;
  beforeEach(fn: TestBody): unknown;
  afterEach(fn: TestBody): unknown;
  expect: ConformanceExpect;
}

let active: ConformanceRunner | undefined;

/** Installs `runner` (or the global one, as Jest and vitest with `globals: true` define it) for the suites. */
export function useRunner(runner: ConformanceRunner | undefined, suite: string): void {
  const chosen = runner ?? globalRunner();
  if (!chosen) {
    throw new WorkflowError(
      ErrorCodes.invalidInput,
      `${suite}: pass the test runner's functions as the second argument (vitest: import * as vitest from "vitest"; node:test: { describe, it, beforeEach, afterEach } and expect from the "expect" package); there is no global describe/it/expect to use`,
    );
  }
  active = chosen;
}

function globalRunner(): ConformanceRunner | undefined {
  const g = globalThis as Record<string, unknown>;
  const names = ["describe", "it", "beforeEach", "afterEach", "expect"] as const;
  if (!names.every((name) => typeof g[name] === "function")) return undefined;
  return Object.fromEntries(names.map((name) => [name, g[name]])) as unknown as ConformanceRunner;
}

function runner(): ConformanceRunner {
  if (!active) throw new WorkflowError(ErrorCodes.invalidState, "the conformance suites were used before a test runner was installed (describeStoreConformance installs it)");
  return active;
}

export const describe = (name: string, fn: () => void): void => void runner().describe(name, fn);
export const it = (name: string, fn: TestBody): void => void runner().it(name, () => keepingProcessAlive(fn));
export const beforeEach = (fn: TestBody): void => void runner().beforeEach(fn);
export const afterEach = (fn: TestBody): void => void runner().afterEach(fn);

/**
 * Runs a test body with a timer that keeps the event loop alive. Some tests wait
 * on what only the engine's unref'd timers bring (a heartbeat): node:test ends
 * a test whose promise is pending once nothing else holds the loop open.
 */
async function keepingProcessAlive(fn: TestBody): Promise<unknown> {
  const alive = setInterval(() => undefined, 60_000);
  try {
    return await fn();
  } finally {
    clearInterval(alive);
  }
}

/** Forwards to the installed runner's `expect`, its asymmetric matchers included. */
// One argument: Jest's expect refuses a second (vitest's message).
export const expect: ConformanceExpect = Object.assign((actual: unknown) => runner().expect(actual), {
  stringMatching: (expected: string | RegExp) => runner().expect.stringMatching(expected),
  objectContaining: (expected: Record<string, unknown>) => runner().expect.objectContaining(expected),
  arrayContaining: (expected: readonly unknown[]) => runner().expect.arrayContaining(expected),
  any: (constructor: unknown) => runner().expect.any(constructor),
});

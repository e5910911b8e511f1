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
  /** The value is `expected` (`Object.is`). */
  toBe(expected: unknown): unknown;
  /** The value equals `expected`, recursively (asymmetric matchers allowed). */
  toEqual(expected: unknown): unknown;
  /** The value has at least the properties of `expected`, recursively. */
  toMatchObject(expected: object): unknown;
  /** The array holds `expected` (`===`), or the string contains it. */
  toContain(expected: unknown): unknown;
  /** The value's `length` is `length`. */
  toHaveLength(length: number): unknown;
  /** The string matches the regular expression, or contains the string. */
  toMatch(expected: string | RegExp): unknown;
  /** The value is not `undefined`. */
  toBeDefined(): unknown;
  /** The value is `undefined`. */
  toBeUndefined(): unknown;
  /** The value is an instance of the class `expected`. */
  toBeInstanceOf(expected: unknown): unknown;
  /** The value is `> n`. */
  toBeGreaterThan(n: number | bigint): unknown;
  /** The value is `>= n`. */
  toBeGreaterThanOrEqual(n: number | bigint): unknown;
  /** The value is `< n`. */
  toBeLessThan(n: number | bigint): unknown;
  /** The value is `<= n`. */
  toBeLessThanOrEqual(n: number | bigint): unknown;
  /** The same matchers, negated. */
  readonly not: ConformanceMatchers;
  /** The matchers applied to the reason the promise rejects with (failing if it resolves). */
  readonly rejects: ConformanceAsyncMatchers;
  /** The matchers applied to the value the promise resolves to (failing if it rejects). */
  readonly resolves: ConformanceAsyncMatchers;
}

/** The matchers of `.rejects` / `.resolves`: the same, awaited. */
export type ConformanceAsyncMatchers = { [K in keyof ConformanceMatchers]: ConformanceMatchers[K] extends (...args: infer A) => unknown ? (...args: A) => Promise<unknown> : ConformanceAsyncMatchers };

/** A Jest-compatible `expect`: vitest's, Jest's, or the `expect` package's (for `node:test`). */
export interface ConformanceExpect {
  (actual: unknown): ConformanceMatchers;
  /** An asymmetric matcher: a string that matches the regular expression, or contains the string. */
  stringMatching(expected: string | RegExp): unknown;
  /** An asymmetric matcher: an object with at least these properties, each equal. */
  objectContaining(expected: Record<string, unknown>): unknown;
  /** An asymmetric matcher: an array holding every element of `expected`, in any order. */
  arrayContaining(expected: readonly unknown[]): unknown;
  /** An asymmetric matcher: any value made by `constructor` (`Number`, `String` and the like match primitives too). */
  any(constructor: unknown): unknown;
}

/**
 * The runner functions the suites need. vitest: `import * as vitest from
 * "vitest"` and pass `vitest`. Jest: omit it (its globals are used). `node:test`:
 * `{ describe, it, beforeEach, afterEach }` from `node:test` and `expect` from the
 * `expect` package.
 */
export interface ConformanceRunner {
  /** Registers a group of tests: `fn` registers them, synchronously. */
  describe(name: string, fn: () => void): unknown;
  /** Registers a test; a body that returns a promise passes when it resolves. */
  it(name: string, fn: TestBody): unknown;
  /** Registers a hook run before each test of the enclosing group. */
  beforeEach(fn: TestBody): unknown;
  /** Registers a hook run after each test of the enclosing group, whether it passed or not. */
  afterEach(fn: TestBody): unknown;
  /** The runner's assertion function. */
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

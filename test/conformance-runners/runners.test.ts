/**
 * `trellis/conformance` from the other two test runners: the whole store
 * conformance suite on SQLite under node:test (the ESM build, with the
 * `expect` package) and under Jest (the CommonJS build, Jest's globals), each
 * as a child process on dist/ (built by `npm test`'s pretest). vitest runs it
 * on the source in test/sqlite-conformance.test.ts.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { describeStoreConformance } from "../../src/conformance/index.js";
import { sqliteStore } from "../../src/index.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const here = path.join(root, "test/conformance-runners");
const run = promisify(execFile);
/**
 * How many tests the suite declares on SQLite with start leases (as both child
 * processes run it): counted by registering it with a runner that only counts,
 * so a suite that grows is expected whole and a test lost on the way fails.
 */
function countSuiteTests(): number {
  let tests = 0;
  const expectNothing = () => {
    throw new Error("a counting runner runs no test");
  };
  describeStoreConformance(
    { name: "count", makeStore: () => sqliteStore(":memory:"), startLeases: true },
    { describe: (_name, fn) => fn(), it: () => void tests++, beforeEach: () => undefined, afterEach: () => undefined, expect: expectNothing as never },
  );
  return tests;
}
const SUITE_TESTS = countSuiteTests();

beforeAll(() => {
  for (const file of ["dist/conformance.js", "dist/conformance.cjs"]) {
    if (!fs.existsSync(path.join(root, file))) throw new Error(`${file} is missing: build first (npm test does; or npm run build:js)`);
  }
});

// Mostly waiting (leases, polls): the two run side by side.
describe.concurrent("the store conformance suite", () => {
  it("passes under node:test, on the ESM build", async () => {
    expect(SUITE_TESTS).toBeGreaterThan(50); // the counting runner saw the suite
    const { stdout } = await run(process.execPath, ["--test", "--test-reporter=tap", path.join(here, "sqlite.node-test.mjs")], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    expect(stdout).toMatch(new RegExp(`^# pass ${SUITE_TESTS}$`, "m"));
    expect(stdout).toMatch(/^# fail 0$/m);
  });

  it("passes under Jest, on the CommonJS build", async () => {
    const jest = path.join(root, "node_modules/jest/bin/jest.js");
    const args = [jest, "--rootDir", here, "--testMatch", "**/*.jest.cjs", "--transform", "{}", "--ci", "--json", "--testTimeout", "60000"];
    const { stdout } = await run(process.execPath, args, { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    const report = JSON.parse(stdout) as { numPassedTests: number; numFailedTests: number; numPendingTests: number };
    expect(report).toMatchObject({ numPassedTests: SUITE_TESTS, numFailedTests: 0, numPendingTests: 0 });
  });
});

describe("describeStoreConformance without a runner", () => {
  it("throws invalid_input saying how to pass one when there are no global describe/it/expect (vitest without globals)", () => {
    expect(() => describeStoreConformance({ name: "x", makeStore: () => sqliteStore(":memory:") })).toThrow(
      expect.objectContaining({ code: "invalid_input", message: expect.stringContaining('import * as vitest from "vitest"') }),
    );
  });
});

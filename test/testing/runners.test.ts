/**
 * trellis/testing from the three test runners: the same workflow test, written
 * for vitest (order.vitest.test.ts, run by this suite on the source), Jest
 * (order.jest.cjs, on the CommonJS build) and `node:test` (order.node-test.mjs,
 * on the ESM build). Jest and node:test run here as child processes, on plain
 * JavaScript against dist/ (built by `npm test`'s pretest), so no transform is
 * involved. docs/testing.md shows these files: its code blocks must match them.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const runners = path.join(root, "test/testing/runners");
const run = promisify(execFile);

beforeAll(() => {
  for (const file of ["dist/index.js", "dist/index.cjs", "dist/testing.js", "dist/testing.cjs"]) {
    if (!fs.existsSync(path.join(root, file))) throw new Error(`${file} is missing: build first (npm test does; or npm run build:js)`);
  }
});

describe("the order workflow's test", () => {
  it("passes under node:test, on the ESM build", async () => {
    const { stdout } = await run(process.execPath, ["--test", "--test-reporter=tap", path.join(runners, "order.node-test.mjs")], { cwd: root });
    expect(stdout).toMatch(/^# pass 2$/m);
    expect(stdout).toMatch(/^# fail 0$/m);
  });

  it("passes under Jest, on the CommonJS build", async () => {
    const jest = path.join(root, "node_modules/jest/bin/jest.js");
    const args = [jest, "--rootDir", runners, "--testMatch", "**/*.jest.cjs", "--transform", "{}", "--ci", "--json"];
    const { stdout } = await run(process.execPath, args, { cwd: root });
    const report = JSON.parse(stdout) as { numPassedTests: number; numFailedTests: number; numPendingTests: number };
    expect(report).toMatchObject({ numPassedTests: 2, numFailedTests: 0, numPendingTests: 0 });
  });

  it("is what docs/testing.md shows", () => {
    const doc = fs.readFileSync(path.join(root, "docs/testing.md"), "utf8");
    // Each block follows a line naming its file: <!-- test/testing/runners/<file> -->
    const blocks = [...doc.matchAll(/<!-- (test\/testing\/runners\/[^ ]+) -->\n```[a-z]*\n([\s\S]*?)```/g)];
    expect([...new Set(blocks.map((b) => b[1]))]).toEqual(["test/testing/runners/order.vitest.test.ts", "test/testing/runners/order.jest.cjs", "test/testing/runners/order.node-test.mjs"]);
    for (const [, file, code] of blocks) expect(fs.readFileSync(path.join(root, file as string), "utf8"), file).toContain(code);
  });
});

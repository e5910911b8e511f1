/**
 * croner, the cron library, loads with the first schedule: `import "trellis"` and
 * a worker cycle without schedules do not load it. The CommonJS build loads it too.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../crash/harness.js";

const root = path.resolve(import.meta.dirname, "../..");
const trace = path.join(root, "test/fixtures/trace-imports.mjs");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-lazy-croner-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs an ESM program against the built package; returns every bare specifier it imported. */
function imports(program: string): string[] {
  const file = path.join(dir, `imports-${Math.random().toString(36).slice(2)}.txt`);
  fs.writeFileSync(file, "");
  const child = spawnSync(process.execPath, ["--import", trace, "--input-type=module", "-e", program], { cwd: root, encoding: "utf8", env: { ...process.env, TRELLIS_TRACE_IMPORTS: file } });
  expect(child.status, child.stderr).toBe(0);
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
}

describe("croner", () => {
  beforeAll(assertBuilt);
  const index = JSON.stringify(new URL("dist/index.js", `file://${root}/`).href);
  // The interval keeps the loop alive through rt.close(): the SQLite checkpoint thread is
  // unref'd, so a script with nothing else pending exits (code 13) before it says stopped.
  const setup = (db: string) => `const keep = setInterval(() => {}, 1000); const t = await import(${index});
    const rt = await t.newRuntime({ store: t.sqliteStore(${JSON.stringify(path.join(dir, db))}) });
    rt.registerExecutor(t.newExecutor("k", async (s) => s.result(null)));
    rt.registerPackage(t.newPackage("p").entrypoint((run) => void run.step("a", null, { kind: "k" })).build());`;

  it("is not loaded by a runtime without schedules, its worker cycles included", () => {
    const loaded = imports(`${setup("none.db")} await rt.startRun("p", null); await rt.runOnce(); await rt.close(); clearInterval(keep);`);
    expect(loaded).toContain("superjson");
    expect(loaded).not.toContain("croner");
  });

  it("is loaded by the first rt.schedule", () => {
    const loaded = imports(`${setup("one.db")} await rt.schedule({ id: "s", cron: "* * * * *", package: "p" }); await rt.close(); clearInterval(keep);`);
    expect(loaded).toContain("croner");
  });

  it("loads from the CommonJS build too", () => {
    const cjs = JSON.stringify(path.join(root, "dist/index.cjs"));
    const program = `const t = require(${cjs});
      (async () => {
        const rt = await t.newRuntime({ store: t.sqliteStore(${JSON.stringify(path.join(dir, "cjs.db"))}) });
        rt.registerPackage(t.newPackage("p").entrypoint((run) => void run.step("a", null, { kind: "k" })).build());
        const s = await rt.schedule({ id: "s", cron: "0 2 * * *", timezone: "Europe/Berlin", package: "p" });
        process.stdout.write(s.nextFireAt.toISOString());
        await rt.close();
      })();`;
    const child = spawnSync(process.execPath, ["-e", program], { cwd: root, encoding: "utf8" });
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout).toMatch(/^\d{4}-\d\d-\d\dT0[01]:00:00\.000Z$/);
  });
});

/**
 * The published builds, as an application loads them: CommonJS (with the
 * ESM-only dependencies bundled in) and ESM, each running a real run on SQLite.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const program = (load: string, db: string) => `
${load}
(async () => {
  const rt = await newRuntime({ store: sqliteStore(${JSON.stringify(db)}) });
  rt.registerExecutor(newExecutor("k", async (step) => step.result({ at: new Date(0), tags: new Set(["a"]) })));
  rt.registerPackage(newPackage("p").entrypoint((run) => {
    // Options whose schemas read constants while the bundle loads (delay, timeout), and a built-in wait.
    const s = run.step("s", null, { kind: "k", delay: 0, timeout: 60000, priority: 1 });
    const nap = run.sleep("nap", 0, { dependsOn: [{ stepId: "s", required: true }] });
    run.output(nap);
    void s;
  }).build());
  const { id } = await rt.startRun("p", null);
  await rt.runOnce();
  const data = (await rt.result(id, "s")).data;
  console.log(JSON.stringify({ status: (await rt.workflow(id)).status, date: data.at instanceof Date, set: data.tags instanceof Set }));
  await rt.close();
})();`;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-builds-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("the built package", () => {
  it("works from CommonJS", () => {
    const load = `const { newRuntime, sqliteStore, newExecutor, newPackage } = require(${JSON.stringify(path.join(root, "dist/index.cjs"))});`;
    const out = execFileSync(process.execPath, ["-e", program(load, path.join(dir, "cjs.db"))], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual({ status: "succeeded", date: true, set: true });
  });

  it("works from ESM", () => {
    const url = new URL("dist/index.js", `file://${root}/`).href;
    const load = `import { newRuntime, sqliteStore, newExecutor, newPackage } from ${JSON.stringify(url)};`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", program(load, path.join(dir, "esm.db"))], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual({ status: "succeeded", date: true, set: true });
  });

  it("has one WorkflowError across its ESM and CommonJS builds", () => {
    const url = new URL("dist/index.js", `file://${root}/`).href;
    const source = `import { createRequire } from "node:module";
import * as esm from ${JSON.stringify(url)};
const cjs = createRequire(import.meta.url)(${JSON.stringify(path.join(root, "dist/index.cjs"))});
const fromCjs = new cjs.WorkflowError("not_found", "x");
const fromEsm = new esm.WorkflowError("not_found", "y");
class Mine extends esm.WorkflowError {}
console.log(JSON.stringify([fromCjs instanceof esm.WorkflowError, fromEsm instanceof cjs.WorkflowError, esm.isWorkflowError(fromCjs), new Error("z") instanceof esm.WorkflowError, fromEsm instanceof Mine, new Mine("c", "m") instanceof cjs.WorkflowError]));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", source], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual([true, true, true, false, false, true]);
  });

  it("declares its entry points", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    for (const entry of [".", "./postgres", "./store-kit", "./conformance", "./admin", "./declarative", "./testing"]) {
      for (const file of [pkg.exports[entry].import.default, pkg.exports[entry].import.types, pkg.exports[entry].require.default, pkg.exports[entry].require.types]) {
        expect(fs.existsSync(path.join(root, file)), file).toBe(true);
      }
    }
  });

  it.each([
    ["CommonJS", "testing.cjs", "const { createTestRuntime } = require(FILE);"],
    ["ESM", "testing.js", "const { createTestRuntime } = await import(URL);"],
  ])("loads trellis/testing from %s, and no pg for a test on SQLite", (_, file, load) => {
    const target = path.join(root, "dist", file);
    const source = `${load.replace("FILE", JSON.stringify(target)).replace("URL", JSON.stringify(new URL(`file://${target}`).href))}
const env = await createTestRuntime();
await env.advance(1000);
const pg = Object.keys(require.cache).filter((f) => /node_modules[\\/]pg[\\/]/.test(f));
console.log(JSON.stringify({ now: env.now(), pg: pg.length }));
await env.close();`;
    const wrapped = `const { createRequire } = require("node:module"); (async () => { ${source} })();`;
    const out = execFileSync(process.execPath, ["-e", wrapped], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual({ now: Date.UTC(2026, 0, 1) + 1000, pg: 0 });
  });

  it("loads every CommonJS entry point it declares, and imports no test runner from its source", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    const entries = Object.values(pkg.exports as Record<string, { require?: { default: string } }>).flatMap((e) => (e.require ? [path.join(root, e.require.default)] : []));
    const out = execFileSync(process.execPath, ["-e", `for (const f of ${JSON.stringify(entries)}) require(f); console.log(${entries.length})`], { encoding: "utf8" });
    expect(Number(out)).toBe(entries.length);
    // trellis/conformance receives the runner's functions: vitest is ESM-only, and Jest or node:test users have none.
    const sources = (fs.readdirSync(path.join(root, "src"), { recursive: true }) as string[]).filter((f) => f.endsWith(".ts"));
    const importers = sources.filter((f) => /^\s*(import|export)\b[^\n]*from "(vitest|@jest\/globals|node:test)"|\b(require|import)\("(vitest|@jest\/globals|node:test)"\)/m.test(fs.readFileSync(path.join(root, "src", f), "utf8")));
    expect(importers).toEqual([]);
  });

  it("keeps the admin page out of the root entry: nothing dist/index.js imports holds its code", () => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = fs.readFileSync(file, "utf8");
      expect(text, file).not.toContain("trellis_admin_csrf");
      for (const [, spec] of text.matchAll(/from\s*"(\.[^"]+)"/g)) visit(path.resolve(path.dirname(file), spec as string));
    };
    visit(path.join(root, "dist/index.js"));
    expect(seen.size).toBeGreaterThan(1);
  });
});

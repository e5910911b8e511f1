/**
 * Without `@opentelemetry/api` installed, nothing changes and nothing of it is
 * loaded. A real node process runs the built package under module hooks that
 * make `@opentelemetry/*` unresolvable and report every resolution asked for
 * and every module loaded (test/fixtures/no-otel.mjs).
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../crash/harness.js";

const SCRIPT = fileURLToPath(new URL("../fixtures/no-otel.mjs", import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-no-otel-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;

interface Seen {
  status: string;
  attempted: string[];
  loaded: string[];
}

function run(config: { telemetry?: boolean; open?: boolean }): Promise<Seen> {
  assertBuilt();
  const arg = JSON.stringify({ db: path.join(dir, `store-${++n}.db`), ...config });
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SCRIPT, arg], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split("\n").at(-1) as string) as Seen);
    });
  });
}

const otelModules = (seen: Seen) => seen.loaded.filter((url) => url.includes("@opentelemetry"));

describe("without @opentelemetry/api installed", () => {
  it("runs workflows as before, asks for the API once, and loads nothing of it", async () => {
    const seen = await run({});
    expect(seen.status).toBe("succeeded");
    expect(seen.attempted).toEqual(["@opentelemetry/api"]);
    expect(otelModules(seen)).toEqual([]);
    // The hooks did see the package load: the check above is not vacuous.
    expect(seen.loaded.some((url) => url.endsWith("/dist/index.js"))).toBe(true);
  });

  it("with telemetry: false, never even asks for it", async () => {
    const seen = await run({ telemetry: false });
    expect(seen.status).toBe("succeeded");
    expect(seen.attempted).toEqual([]);
    expect(otelModules(seen)).toEqual([]);
  });

  it("import of the package alone asks for nothing", async () => {
    const seen = await run({ open: false });
    expect(seen.attempted).toEqual([]);
    expect(otelModules(seen)).toEqual([]);
  });
});

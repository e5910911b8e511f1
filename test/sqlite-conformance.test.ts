import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as vitest from "vitest";
import { describeStoreConformance } from "../src/conformance/index.js";
import { sqliteStore } from "../src/index.js";

// A real SQLite file per test, in WAL mode, as applications use it.
const root = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-conformance-"));
let n = 0;
vitest.afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describeStoreConformance({
  name: "sqlite",
  makeStore: () => sqliteStore(path.join(root, `store-${++n}.db`)),
  startLeases: true,
}, vitest);

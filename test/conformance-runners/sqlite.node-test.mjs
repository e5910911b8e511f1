// The store conformance suite under node:test, on the ESM build, with the `expect` package.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, afterEach, beforeEach, describe, it } from "node:test";
import { expect } from "expect";
import { sqliteStore } from "trellis";
import { describeStoreConformance } from "trellis/conformance";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-conformance-node-test-"));
let n = 0;
after(() => fs.rmSync(root, { recursive: true, force: true }));

describeStoreConformance(
  { name: "sqlite", makeStore: () => sqliteStore(path.join(root, `store-${++n}.db`)), startLeases: true },
  { describe, it, beforeEach, afterEach, expect },
);

// The store conformance suite under Jest, on the CommonJS build; Jest's globals are the runner.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { sqliteStore } = require("trellis");
const { describeStoreConformance } = require("trellis/conformance");

const root = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-conformance-jest-"));
let n = 0;
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describeStoreConformance({ name: "sqlite", makeStore: () => sqliteStore(path.join(root, `store-${++n}.db`)), startLeases: true });

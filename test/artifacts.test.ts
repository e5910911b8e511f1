import * as vitest from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import pg from "pg";
import { FileArtifactStore } from "../src/artifacts/file-artifact-store.js";
import { PostgresArtifactStore } from "../src/artifacts/postgres-artifact-store.js";
import { describeArtifactStoreConformance } from "../src/conformance/index.js";
import { pgUrl, uniqueSchema } from "./support/postgres.js";
import { WorkflowError } from "../src/errors.js";

const BAD_NAMES = ["..", "a/b", "a\\b", "a\0b", "", "   ", ".", "x".repeat(201), "a.ref.json"];

let parent: string;
let root: string;

beforeEach(() => {
  parent = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-"));
  root = path.join(parent, "artifacts");
});

afterEach(() => {
  fs.rmSync(parent, { recursive: true, force: true });
});

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowError);
  return (err as WorkflowError).code;
}

describe("FileArtifactStore", () => {
  it("round-trips bytes and the ref", async () => {
    const store = new FileArtifactStore(root);
    const body = new Uint8Array([0, 1, 2, 255, 10]);
    const ref = await store.put({
      id: " run-1:step:artifact:001 ",
      name: "report.md",
      contentType: "text/markdown",
      metadata: { lang: "en" },
      body,
    });
    expect(ref).toEqual({
      id: "run-1:step:artifact:001",
      uri: ref.uri,
      name: "report.md",
      kind: "text",
      contentType: "text/markdown",
      metadata: { lang: "en" },
      size: 5,
    });
    expect(ref.uri.startsWith("file:///")).toBe(true);
    const file = fileURLToPath(ref.uri);
    expect(path.isAbsolute(file)).toBe(true);
    expect(file).toBe(path.join(root, "run-1:step:artifact:001"));
    expect(fs.readFileSync(file)).toEqual(Buffer.from(body));

    const opened = await store.open("run-1:step:artifact:001");
    expect(opened.ref).toEqual(ref);
    expect(await readAll(opened.stream)).toEqual(Buffer.from(body));
  });

  it("infers kind like the Go package and honours an explicit kind", async () => {
    const store = new FileArtifactStore(root);
    const put = (name: string, contentType: string, kind?: string) =>
      store.put({ name, contentType, body: new Uint8Array(), ...(kind === undefined ? {} : { kind }) });
    expect((await put("a.csv", "text/csv")).kind).toBe("text");
    expect((await put("data.json", "/weird")).kind).toBe("json");
    expect((await put("data.", "none")).kind).toBe("artifact");
    expect((await put("data.json", "")).kind).toBe("application"); // octet-stream default first
    expect((await put("noext", "nocontenttype")).kind).toBe("artifact");
    expect((await put("a.csv", "text/csv", "table")).kind).toBe("table");
    expect((await put("a.csv", "text/csv", "  ")).kind).toBe("text");
  });

  it("generates an id, defaults the content type and omits empty metadata", async () => {
    const store = new FileArtifactStore(root);
    const ref = await store.put({ name: "blob", contentType: " ", metadata: {}, body: new Uint8Array(3) });
    expect(ref.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ref.contentType).toBe("application/octet-stream");
    expect(ref.kind).toBe("application");
    expect(ref.size).toBe(3);
    expect("metadata" in ref).toBe(false);
    const opened = await store.open(ref.id);
    expect(opened.ref).toEqual(ref);
    expect(await readAll(opened.stream)).toEqual(Buffer.alloc(3));
  });

  it("keeps streaming the body it opened when the artifact is replaced", async () => {
    const store = new FileArtifactStore(root);
    await store.put({ id: "v", name: "v", contentType: "text/plain", body: Buffer.from("old body") });
    const before = await store.open("v");
    await store.put({ id: "v", name: "v", contentType: "text/plain", body: Buffer.from("new") });
    expect((await readAll(before.stream)).toString()).toBe("old body");
    expect(before.ref.size).toBe(8);
    const after = await store.open("v");
    expect(after.ref.size).toBe(3);
    expect((await readAll(after.stream)).toString()).toBe("new");
  });

  it("replaces an artifact put again under the same id, leaving no temporary files", async () => {
    const store = new FileArtifactStore(root);
    await store.put({ id: "a", name: "a.txt", contentType: "text/plain", body: new Uint8Array([1, 2, 3]) });
    const second = await store.put({ id: "a", name: "b.bin", contentType: "", body: new Uint8Array([9]) });
    const opened = await store.open("a");
    expect(opened.ref).toEqual(second);
    expect(await readAll(opened.stream)).toEqual(Buffer.from([9]));
    expect(fs.readdirSync(root).sort()).toEqual(["a", "a.ref.json"]);
  });

  it("rejects a missing id with not_found", async () => {
    const store = new FileArtifactStore(root);
    expect(await codeOf(store.open("missing"))).toBe("not_found");
    await store.put({ id: "present", name: "p", contentType: "text/plain", body: new Uint8Array() });
    expect(await codeOf(store.open("missing"))).toBe("not_found");
  });

  it("rejects bad ids with invalid_name and writes nothing outside its root", async () => {
    const store = new FileArtifactStore(root);
    for (const id of BAD_NAMES) {
      expect(await codeOf(store.put({ id, name: "x", contentType: "text/plain", body: new Uint8Array([1]) }))).toBe(
        "invalid_name",
      );
      expect(await codeOf(store.open(id))).toBe("invalid_name");
    }
    // Validation comes first, so not even the root was created.
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  it("rejects bad names with invalid_name and bad labels with invalid_input, before writing anything", async () => {
    const store = new FileArtifactStore(root);
    // (".ref.json" is reserved for ids only: a name is only a label.)
    for (const name of BAD_NAMES.filter((n) => !n.endsWith(".ref.json"))) {
      expect(await codeOf(store.put({ id: "ok", name, contentType: "text/plain", body: new Uint8Array([1]) }))).toBe("invalid_name");
    }
    const body = new Uint8Array([1]);
    expect(await codeOf(store.put({ id: "ok", name: "n", contentType: "text/\u0000plain", body }))).toBe("invalid_input");
    expect(await codeOf(store.put({ id: "ok", name: "n", contentType: "text/plain", kind: 7 as unknown as string, body }))).toBe("invalid_input");
    expect(await codeOf(store.put({ id: "ok", name: "n", contentType: "text/plain", metadata: { a: "b\u0000" }, body }))).toBe("invalid_input");
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  it("rejects a body that is not a Uint8Array with invalid_input", async () => {
    const store = new FileArtifactStore(root);
    const bad = { id: "s", name: "s", contentType: "text/plain", body: "text" as unknown as Uint8Array };
    expect(await codeOf(store.put(bad))).toBe("invalid_input");
  });

  it("rejects an empty root with invalid_config", () => {
    expect(() => new FileArtifactStore(" ")).toThrow(expect.objectContaining({ code: "invalid_config" }));
  });
});

// The behaviour every artifact store shares, on both built-in ones. Each test
// gets fresh storage; the two stores a test may open share it.
let fileRoot: string | undefined;
describeArtifactStoreConformance({
  name: "FileArtifactStore",
  makeStore: () => new FileArtifactStore((fileRoot ??= fs.mkdtempSync(path.join(os.tmpdir(), "trellis-artifact-conformance-")))),
  cleanup: () => {
    if (fileRoot) fs.rmSync(fileRoot, { recursive: true, force: true });
    fileRoot = undefined;
  },
}, vitest);

let pgSchema: string | undefined;
describeArtifactStoreConformance({
  name: "PostgresArtifactStore",
  // Small chunks, so that the large body of the suite crosses many of them.
  makeStore: () => new PostgresArtifactStore({ connectionString: pgUrl(), schema: (pgSchema ??= uniqueSchema("artifacts")), chunkBytes: 256 * 1024 }),
  cleanup: async () => {
    const schema = pgSchema;
    pgSchema = undefined;
    if (!schema) return;
    const admin = new pg.Client({ connectionString: pgUrl() });
    await admin.connect();
    try {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await admin.end();
    }
  },
}, vitest);

/**
 * The artifact store conformance suite: what every `ArtifactStore` must show
 * (the built-in file and PostgreSQL stores, or an S3-compatible one of your
 * own). Bodies are bytes in, the same bytes out, streamed; a `put` of an
 * existing id replaces it without tearing a body being read; ids and names
 * that could address something else are refused before anything is written.
 *
 * @example
 * describeArtifactStoreConformance({ name: "s3", makeStore: () => new S3ArtifactStore({ bucket, prefix: freshPrefix() }) }, vitest);
 */
import { describe, expect, it, useRunner, type ConformanceRunner } from "./runner.js";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import { outcomeCode, withFreshStores } from "./harness.js";

/** The `ArtifactStore` the artifact suite runs against, and how to get fresh storage for it. */
export interface ArtifactStoreConformanceTarget {
  /** Shown in the suite's name. */
  name: string;
  /** A store over fresh, empty storage. Called twice in a test, the two must share it (two processes). */
  makeStore(): ArtifactStore | Promise<ArtifactStore>;
  /** Called after each test. */
  cleanup?(): void | Promise<void>;
}

/** Ids and names that could address something other than one artifact. */
export const BAD_ARTIFACT_NAMES = ["..", "a/b", "a\\b", "a\u0000b", "", "   ", ".", "x".repeat(201)];

async function readAll(stream: NodeJS.ReadableStream): Promise<{ bytes: Buffer; pieces: number }> {
  const pieces: Buffer[] = [];
  for await (const piece of stream) pieces.push(Buffer.from(piece as Uint8Array));
  return { bytes: Buffer.concat(pieces), pieces: pieces.length };
}

/** Registers the suite with the test runner (`runner`, or Jest's globals when omitted; see `describeStoreConformance`). */
export function describeArtifactStoreConformance(target: ArtifactStoreConformanceTarget, runner?: ConformanceRunner): void {
  useRunner(runner, "describeArtifactStoreConformance");
  describe(`artifact store conformance: ${target.name}`, () => {
    const withStores = (n: number, body: (...stores: ArtifactStore[]) => Promise<void>) => withFreshStores(target, n, body);

    it("gives back the bytes it was given, with the ref it returned, also to another store object", () =>
      withStores(2, async (store, other) => {
        const body = new Uint8Array([0, 1, 2, 255, 10, 13, 0]);
        const ref = await store.put({ id: " run-1:s:artifact:001 ", name: "report.md", contentType: "text/markdown", metadata: { lang: "en" }, body });
        expect(ref).toEqual({ id: "run-1:s:artifact:001", uri: ref.uri, name: "report.md", kind: "text", contentType: "text/markdown", metadata: { lang: "en" }, size: 7 });
        expect(ref.uri).toMatch(/^[a-z][a-z0-9+.-]*:/); // an absolute URI
        for (const s of [store, other]) {
          const opened = await s.open("run-1:s:artifact:001");
          expect(opened.ref).toEqual(ref);
          expect((await readAll(opened.stream)).bytes).toEqual(Buffer.from(body));
        }
      }));

    it("generates ids, defaults the content type, infers the kind and leaves out empty metadata", () =>
      withStores(1, async (store) => {
        const ref = await store.put({ name: "blob", contentType: " ", metadata: {}, body: new Uint8Array(3) });
        expect(ref.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(ref).toMatchObject({ contentType: "application/octet-stream", kind: "application", size: 3 });
        expect("metadata" in ref).toBe(false);
        expect((await store.put({ name: "data.json", contentType: "/weird", body: new Uint8Array() })).kind).toBe("json");
        expect((await store.put({ name: "a.csv", contentType: "text/csv", kind: "table", body: new Uint8Array() })).kind).toBe("table");
        const empty = await store.put({ id: "empty", name: "e", contentType: "text/plain", body: new Uint8Array() });
        expect(empty.size).toBe(0);
        expect((await readAll((await store.open("empty")).stream)).bytes.length).toBe(0);
      }));

    it("streams a large body in pieces, byte for byte", () =>
      withStores(1, async (store) => {
        const body = new Uint8Array(5 * 1024 * 1024 + 123);
        for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 11)) & 0xff;
        await store.put({ id: "big", name: "big.bin", contentType: "application/octet-stream", body });
        const { bytes, pieces } = await readAll((await store.open("big")).stream);
        expect(bytes.equals(Buffer.from(body))).toBe(true);
        expect(pieces).toBeGreaterThan(1);
      }));

    it("replaces an artifact put again under the same id; a body being read is not torn", () =>
      withStores(1, async (store) => {
        await store.put({ id: "v", name: "v", contentType: "text/plain", body: Buffer.from("old body") });
        const before = await store.open("v");
        const second = await store.put({ id: "v", name: "v2.bin", contentType: "", body: Buffer.from("new") });
        expect((await readAll(before.stream)).bytes.toString()).toBe("old body");
        const after = await store.open("v");
        expect(after.ref).toEqual(second);
        expect((await readAll(after.stream)).bytes.toString()).toBe("new");
      }));

    it("refuses unknown ids with not_found, bad ids and names with invalid_name, bad fields with invalid_input", () =>
      withStores(1, async (store) => {
        expect(await outcomeCode(store.open("missing"))).toBe("not_found");
        // Keyed by what was tried, so that a failure names it (in every test runner).
        const outcomes: Record<string, string> = {};
        for (const bad of BAD_ARTIFACT_NAMES) {
          outcomes[`id ${JSON.stringify(bad)}`] = await outcomeCode(store.put({ id: bad, name: "x", contentType: "text/plain", body: new Uint8Array([1]) }));
          outcomes[`open ${JSON.stringify(bad)}`] = await outcomeCode(store.open(bad));
          outcomes[`name ${JSON.stringify(bad)}`] = await outcomeCode(store.put({ id: "ok", name: bad, contentType: "text/plain", body: new Uint8Array([1]) }));
        }
        expect(outcomes).toEqual(Object.fromEntries(Object.keys(outcomes).map((k) => [k, "invalid_name"])));
        expect(await outcomeCode(store.put({ id: "ok", name: "n", contentType: "text/plain", body: "text" as unknown as Uint8Array }))).toBe("invalid_input");
        expect(await outcomeCode(store.put({ id: "ok", name: "n", contentType: "text/plain", metadata: { a: 1 } as unknown as Record<string, string>, body: new Uint8Array() }))).toBe("invalid_input");
        // None of it was stored.
        expect(await outcomeCode(store.open("ok"))).toBe("not_found");
      }));

    it("deletes artifacts, when it can, and ignores ids it does not have", () =>
      withStores(1, async (store) => {
        if (!store.delete) return; // optional: retention then leaves the bodies behind
        await store.put({ id: "a", name: "a", contentType: "text/plain", body: Buffer.from("a") });
        await store.put({ id: "b", name: "b", contentType: "text/plain", body: Buffer.from("b") });
        expect(await store.delete(["a", "nope"])).toBe(1);
        expect(await outcomeCode(store.open("a"))).toBe("not_found");
        expect((await readAll((await store.open("b")).stream)).bytes.toString()).toBe("b");
      }));
  });
}

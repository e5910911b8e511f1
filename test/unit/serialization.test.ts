import superjson from "superjson";
import { describe, expect, it } from "vitest";
import { timeOrderedId } from "../../src/ids.js";
import { decode, tryEncode } from "../../src/serialization.js";

describe("serialization", () => {
  it("refuses values that would not come back as they went in", () => {
    class Money {
      constructor(readonly cents: number) {}
    }
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(tryEncode({ f: () => 1 }).ok).toBe(false);
    expect(tryEncode(new Money(5)).ok).toBe(false);
    expect(tryEncode(circular).ok).toBe(false);
    expect(tryEncode(Symbol("s")).ok).toBe(false);
    const shared = { x: 1 };
    expect(tryEncode({ a: shared, b: shared, d: new Date(0), m: new Map(), s: new Set(), n: 1n, u: undefined, url: new URL("https://example.com/x") }).ok).toBe(true);
  });
});

describe("the plain-JSON fast path", () => {
  it("writes exactly what superjson writes, and reads both forms back", async () => {
    const plain = [{ a: 1, b: ["x", true, null, { c: 2.5 }] }, "text", 0, [], {}, null];
    for (const value of plain) {
      const encoded = tryEncode(value);
      expect(encoded.ok && encoded.text).toBe(superjson.stringify(value));
      expect(decode(superjson.stringify(value))).toEqual(value);
    }
    const rich = [{ d: new Date(5) }, [1, undefined], { u: undefined }, -0, NaN, 2n, new Set([1]), new Map([[1, 2]]), undefined];
    for (const value of rich) {
      const encoded = tryEncode(value);
      expect(encoded.ok && encoded.text).toBe(superjson.stringify(value));
      expect(encoded.ok && decode(encoded.text)).toEqual(value);
    }
  });
});

describe("generated run ids", () => {
  it("are UUIDv7-shaped, unique, and ordered by time", async () => {
    const ids = Array.from({ length: 2000 }, (_, i) => timeOrderedId(1_700_000_000_000 + i));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});

/**
 * How values are persisted: superjson text, so that `Date`, `Map`, `Set`,
 * `BigInt` and `undefined` come back as they went in. One stringify on write and
 * one parse on read per value (see shared/LIMITS.md: serialization is the
 * largest cost of a step once the store is batched).
 */
import superjson from "superjson";
import type { Encoded } from "./store/store.js";

export function encode(value: unknown): Encoded {
  return superjson.stringify(value);
}

export function decode<T = unknown>(text: Encoded): T {
  return superjson.parse<T>(text);
}

/**
 * Like `encode`, but refuses what would not come back as it went in: functions,
 * symbols and class instances superjson does not know (they would silently
 * turn into `{}` or vanish). Returns the error instead of throwing.
 */
export function tryEncode(value: unknown): { ok: true; text: Encoded } | { ok: false; error: Error } {
  const problem = findUnserializable(value, new Set());
  if (problem) return { ok: false, error: new Error(problem) };
  try {
    return { ok: true, text: superjson.stringify(value) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
  }
}

function findUnserializable(value: unknown, seen: Set<object>, path = "value"): string | undefined {
  switch (typeof value) {
    case "function":
      return `${path} is a function`;
    case "symbol":
      return `${path} is a symbol`;
    case "object": {
      if (value === null) return undefined;
      if (seen.has(value)) return `${path} is a circular reference`;
      if (value instanceof Date || value instanceof RegExp || value instanceof Error || value instanceof URL || ArrayBuffer.isView(value)) return undefined;
      seen.add(value);
      try {
        if (Array.isArray(value) || value instanceof Set) {
          let i = 0;
          for (const item of value) {
            const p = findUnserializable(item, seen, `${path}[${i++}]`);
            if (p) return p;
          }
          return undefined;
        }
        if (value instanceof Map) {
          for (const [k, v] of value) {
            const p = findUnserializable(k, seen, `${path} key`) ?? findUnserializable(v, seen, `${path}.get(${String(k)})`);
            if (p) return p;
          }
          return undefined;
        }
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          return `${path} is an instance of ${proto?.constructor?.name ?? "a class"}, which does not round-trip`;
        }
        for (const [k, v] of Object.entries(value)) {
          const p = findUnserializable(v, seen, `${path}.${k}`);
          if (p) return p;
        }
        return undefined;
      } finally {
        seen.delete(value);
      }
    }
    default:
      return undefined;
  }
}

/**
 * How values are persisted: superjson text, so that `Date`, `Map`, `Set`,
 * `BigInt`, `undefined` (and the like) come back as they went in.
 *
 * superjson walks every value twice (to annotate, then to rebuild), which made
 * it the largest cost of a short step once claims and completions were batched
 * (about 7 µs a value where native JSON takes under 1). Most values are plain
 * JSON, for which superjson's text is exactly `{"json":<the JSON>}`; those are
 * written and read with the native JSON functions instead, in the same format,
 * so any superjson reader (and this one) reads both.
 */
import superjson from "superjson";
import type { Encoded } from "./store/store.js";

type Shape = "plain" | "rich" | { problem: string };

/** What a step that sets no result stores, computed once. */
const UNDEFINED_TEXT = superjson.stringify(undefined);

export function decode<T = unknown>(text: Encoded): T {
  const envelope = JSON.parse(text) as { json: unknown; meta?: unknown };
  if (envelope.meta === undefined) return envelope.json as T;
  return superjson.deserialize<T>(envelope as Parameters<typeof superjson.deserialize>[0]);
}

/**
 * Encodes a value, refusing what would not come back as it went in: functions,
 * symbols, circular references and class instances superjson does not know
 * (they would silently turn into `{}` or vanish). Returns the error instead of
 * throwing, whatever the value does while it is read: a getter or a Proxy trap
 * that throws, a `toJSON` that throws, nesting deeper than the stack.
 */
export function tryEncode(value: unknown): { ok: true; text: Encoded } | { ok: false; error: Error } {
  if (value === undefined) return { ok: true, text: UNDEFINED_TEXT };
  try {
    const shape = inspect(value, new Set(), "value");
    if (typeof shape === "object") return { ok: false, error: new Error(clip(shape.problem)) };
    const text = shape === "plain" ? `{"json":${JSON.stringify(value)}}` : superjson.stringify(value);
    // JSON.stringify gives undefined for a value it cannot represent at the top level.
    if (typeof text !== "string" || text.endsWith(":undefined}")) return { ok: false, error: new Error("value has no JSON representation") };
    return { ok: true, text };
  } catch (err) {
    return { ok: false, error: describeThrown(err) };
  }
}

/** What a value threw while it was read, as an Error whose message can itself be read safely. */
function describeThrown(err: unknown): Error {
  let message: string;
  try {
    message = err instanceof Error ? String(err.message) : String(err);
  } catch {
    message = "reading the value threw";
  }
  return new Error(clip(`reading the value threw: ${message}`));
}

/** Keys and messages come from users: keep what an error repeats of them short. */
const clip = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}…` : text);

/** "plain" when JSON says it all, "rich" when superjson must annotate, or what cannot be stored. */
function inspect(value: unknown, seen: Set<object>, path: string): Shape {
  switch (typeof value) {
    case "string":
    case "boolean":
      return "plain";
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0) ? "plain" : "rich";
    case "bigint":
    case "undefined":
      return "rich";
    case "function":
      return { problem: `${path} is a function` };
    case "symbol":
      return { problem: `${path} is a symbol` };
  }
  if (value === null) return "plain";
  const object = value as object;
  if (seen.has(object)) return { problem: `${path} is a circular reference` };
  if (object instanceof Date || object instanceof RegExp || object instanceof Error || object instanceof URL || ArrayBuffer.isView(object)) {
    // superjson keeps a date's time only: a property of its own (a toJSON, say) would vanish.
    if (object instanceof Date && Object.keys(object).length > 0) return { problem: `${path} is a Date with properties of its own, which do not round-trip` };
    return "rich";
  }
  seen.add(object);
  try {
    let shape: Shape = "plain";
    const visit = (item: unknown, at: string): boolean => {
      const s = inspect(item, seen, at);
      if (typeof s === "object") {
        shape = s;
        return false;
      }
      if (s === "rich") shape = "rich";
      return true;
    };
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) if (!visit(object[i], `${path}[${i}]`)) return shape;
      return shape;
    }
    if (object instanceof Set) {
      let i = 0;
      for (const item of object) if (!visit(item, `${path}[${i++}]`)) return shape;
      return "rich";
    }
    if (object instanceof Map) {
      for (const [k, v] of object) if (!visit(k, `${path} key`) || !visit(v, `${path}.get(${String(k)})`)) return shape;
      return "rich";
    }
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      return { problem: `${path} is an instance of ${proto?.constructor?.name ?? "a class"}, which does not round-trip` };
    }
    for (const key in object) if (!visit((object as Record<string, unknown>)[key], `${path}.${key}`)) return shape;
    return shape;
  } finally {
    seen.delete(object);
  }
}

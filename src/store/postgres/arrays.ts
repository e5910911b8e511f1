/**
 * Array parameters as PostgreSQL array literals (`{"a","b",NULL}`), built here
 * instead of by pg's generic `prepareValue`: batches pass a dozen columns of
 * thousands of values, and pg's per-element path costs about 6x more (measured
 * on a 5 000-run start: 47 ms against 7 ms). Every statement casts its array
 * parameters (`$1::text[]`), so the server parses them as it would pg's.
 */
export type ArrayCell = string | number | boolean | null | undefined | Uint8Array;

function quote(text: string): string {
  // Most values (ids, tokens, superjson) need no escaping; test before replacing.
  return text.includes('"') || text.includes("\\") ? `"${text.replace(/["\\]/g, "\\$&")}"` : `"${text}"`;
}

function cell(value: ArrayCell): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "string") return quote(value);
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : quote(String(value));
  if (typeof value === "boolean") return value ? "t" : "f";
  // bytea in hex form; inside a quoted element the backslash itself is escaped.
  return `"\\\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}"`;
}

export function arrayLiteral(values: readonly ArrayCell[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ",";
    out += cell(values[i]);
  }
  return `${out}}`;
}

/** Query values with every array turned into a literal. */
export function encodeParams(values: readonly unknown[]): unknown[] {
  return values.map((v) => (Array.isArray(v) ? arrayLiteral(v as ArrayCell[]) : v));
}

/**
 * How commands print: aligned tables of terminal-safe text for people, and JSON
 * for scripts. Everything a user wrote (run names, step ids, error messages) is
 * cleaned before it reaches a terminal, so a value cannot carry escape sequences
 * that move the cursor, rewrite the screen or change the window title.
 */
import { textLines } from "../graph/render-style.js";

/** Longest cell a table prints; the full value is in `--json`. */
const MAX_CELL = 60;

/** One line of terminal-safe text: control characters and bidi overrides as U+FFFD, newlines as `⏎`, cut at `max`. */
export function cell(value: unknown, max = MAX_CELL): string {
  if (value === undefined || value === null) return "";
  const text = value instanceof Date ? value.toISOString() : String(value);
  const line = textLines(text, Number.MAX_SAFE_INTEGER).join("⏎");
  const chars = Array.from(line);
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : line;
}

/** Columns padded to their widest cell, headers first; an empty table prints its `empty` line instead. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[], empty = "(none)"): string {
  if (rows.length === 0) return `${empty}\n`;
  const cells = rows.map((row) => headers.map((_, i) => cell(row[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => Array.from(row[i] as string).length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v + " ".repeat((widths[i] as number) - Array.from(v).length)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...cells.map(line)].join("\n")}\n`;
}

/** `label: value` lines, labels aligned. */
export function fields(pairs: readonly (readonly [string, unknown])[]): string {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== "");
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cell(v, 200)}`).join("\n") + "\n";
}

/**
 * JSON for scripts: Dates as ISO strings, bigints as strings, Maps and Sets as
 * arrays (run inputs and results are decoded values, which JSON alone cannot hold).
 */
export function json(value: unknown): string {
  return `${JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === "bigint") return v.toString();
      if (v instanceof Map) return [...v.entries()];
      if (v instanceof Set) return [...v.values()];
      return v;
    },
    2,
  )}\n`;
}

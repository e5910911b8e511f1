/**
 * Where in a YAML file a path into its document is: the line and column every
 * author error is reported at (`file:line:column: message`).
 */
import { type Document, isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from "yaml";
import type { Path } from "./compile.js";

/** An author error at a place in a file. */
export interface Located {
  /** The definition's file (for `parseWorkflow`, its `file` option, default `<source>`). */
  file: string;
  /** 1-based line of the offending key or value. */
  line: number;
  /** 1-based column of the offending key or value. */
  column: number;
  /** What is wrong, for the author. */
  message: string;
  /** The error code, when the error has one (e.g. `too_many_tasks`). */
  code?: string;
}

/** Formats a located error the way every tool prints it. */
export function formatLocated(e: Located): string {
  return `${e.file}:${e.line}:${e.column}: ${e.message}`;
}

/**
 * The position of `path` in `doc`: the value's start, or with `key` the key's;
 * the deepest node that exists when the path goes further than the document.
 * `offset` moves into a single-line string scalar (past its opening quote).
 */
export function locate(doc: Document, lines: LineCounter, path: Path, opts: { key?: boolean; offset?: number } = {}): { line: number; column: number } {
  let node: unknown = doc.contents;
  let at: number = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (const [i, segment] of path.entries()) {
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      const keyNode = pair.key as Node;
      at = keyNode.range?.[0] ?? at;
      if (last && opts.key) break;
      node = pair.value;
      at = (node as Node | null)?.range?.[0] ?? at;
    } else if (isSeq(node) && typeof segment === "number") {
      node = node.items[segment];
      at = (node as Node | null)?.range?.[0] ?? at;
    } else {
      break;
    }
  }
  const pos = lines.linePos(at);
  let column = pos.col;
  if (opts.offset !== undefined && isScalar(node) && typeof node.value === "string" && !node.value.includes("\n")) {
    const quoted = node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE";
    column += opts.offset + (quoted ? 1 : 0);
  }
  return { line: pos.line, column };
}

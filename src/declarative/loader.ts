/**
 * Reading definitions: YAML text or a directory of `*.yaml` / `*.yml` files into
 * packages. Every author error of a file is collected and reported at once,
 * each as `file:line:column: message`, in one `invalid_workflow` error whose
 * `details` list them (a limit that was hit gives its own code instead).
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { isCollection, isPair, LineCounter, type Node as YamlNode, parseDocument } from "yaml";
import type { z } from "zod";
import { ErrorCodes, WorkflowError } from "../errors.js";
import { type Path, type Problem, compileWorkflow, suggest } from "./compile.js";
import type { DeclarativeOptions } from "./context.js";
import { DECISION_KEYS, RETRY_KEYS, SCHEMA_NODE_KEYS, TASK_KEYS, WORKFLOW_KEYS, workflowDef } from "./definition.js";
import { FORBIDDEN_KEYS } from "./expressions/syntax.js";
import { type Located, formatLocated, locate } from "./locate.js";
import { type DeclarativePackage, toPackage } from "./workflow-package.js";

/** Options of `parseWorkflow` and `loadWorkflows`: the values templates may read, and the file name errors name. */
export interface ParseOptions extends DeclarativeOptions {
  /** The file name errors are reported under (default `<source>`). */
  file?: string;
}

const LIMIT_CODES: ReadonlySet<string> = new Set([ErrorCodes.tooManyTasks, ErrorCodes.tooManyItems, ErrorCodes.templateTooLarge]);

/** The keys an object at `path` may hold, for "did you mean". */
function knownKeys(p: Path): readonly string[] {
  const last = p.at(-1);
  if (p.length === 0) return WORKFLOW_KEYS;
  if (last === "retry") return RETRY_KEYS;
  if (p.at(-2) === "decision") return DECISION_KEYS;
  if (p[0] === "parameters" || p[0] === "output") return SCHEMA_NODE_KEYS;
  if (p.at(-2) === "tasks") return TASK_KEYS;
  return [];
}

/** The value at `path` in the parsed document. */
function valueAt(raw: unknown, path: Path): unknown {
  let value = raw;
  for (const segment of path) value = typeof value === "object" && value !== null ? (value as Record<string | number, unknown>)[segment] : undefined;
  return value;
}

function zodProblems(issues: readonly z.core.$ZodIssue[], raw: unknown): Problem[] {
  return issues.flatMap((issue): Problem[] => {
    const at = issue.path.filter((s): s is string | number => typeof s !== "symbol");
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ path: [...at, key], key: true, message: `unknown key "${key}"${suggest(key, knownKeys(at))}` }));
    }
    if (issue.code === "invalid_union" && at.at(-2) === "decision") {
      const entry = valueAt(raw, at);
      const unknown = typeof entry === "object" && entry !== null ? Object.keys(entry).filter((k) => !(DECISION_KEYS as readonly string[]).includes(k)) : [];
      if (unknown.length) return unknown.map((key) => ({ path: [...at, key], key: true, message: `unknown key "${key}"${suggest(key, DECISION_KEYS)}` }));
      return [{ path: at, message: "a decision entry is { when, next } or { default }" }];
    }
    const field = at.length ? at.join(".") : "the document";
    return [{ path: at, message: `${field}: ${issue.message}` }];
  });
}

/** Paths of every mapping key that could reach a prototype (`__proto__`, `constructor`, `prototype`). */
function forbiddenKeys(value: unknown, path: Path = [], found: Path[] = []): Path[] {
  if (Array.isArray(value)) value.forEach((v, i) => forbiddenKeys(v, [...path, i], found));
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (FORBIDDEN_KEYS.has(k)) found.push([...path, k]);
      else forbiddenKeys(v, [...path, k], found);
    }
  }
  return found;
}

function fail(unsorted: Located[]): never {
  const located = [...unsorted].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  const code = located.every((l) => l.code !== undefined && LIMIT_CODES.has(l.code)) ? (located[0]?.code as string) : ErrorCodes.invalidWorkflow;
  throw new WorkflowError(code, located.map(formatLocated).join("\n"), { details: located });
}

/**
 * Parses one definition (YAML text) into a package for `rt.registerPackage`.
 *
 * @throws WorkflowError `invalid_workflow` with every author error in `details`
 *   (`{ file, line, column, message }`), or `too_many_tasks` / `template_too_large`.
 */
export function parseWorkflow(source: string, options: ParseOptions = {}): DeclarativePackage {
  const file = options.file ?? "<source>";
  if (typeof source !== "string") throw new WorkflowError(ErrorCodes.invalidInput, "parseWorkflow needs the YAML text of a definition");
  try {
    return parseSource(source, file, options);
  } catch (err) {
    // The YAML parser and the checks walk the document recursively: thousands of nested levels overflow the stack.
    if (err instanceof RangeError) fail([{ file, line: 1, column: 1, message: `the document nests too deeply to read (${err.message})` }]);
    throw err;
  }
}

function parseSource(source: string, file: string, options: ParseOptions): DeclarativePackage {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (p: Path, message: string, opts: { key?: boolean; offset?: number; code?: string } = {}): Located => ({
    file,
    ...locate(doc, lines, p, opts),
    message,
    ...(opts.code ? { code: opts.code } : {}),
  });
  if (doc.errors.length) {
    fail(doc.errors.map((e) => ({ file, line: e.linePos?.[0]?.line ?? 1, column: e.linePos?.[0]?.col ?? 1, message: `YAML: ${e.message.split("\n")[0]}` })));
  }
  // Everything after this walks the document recursively: bound its depth first,
  // the same on every Node version (whose stacks differ).
  const deep = nodeDeeperThan(doc.contents, MAX_DOCUMENT_DEPTH);
  if (deep) {
    const pos = lines.linePos(deep.range?.[0] ?? 0);
    fail([{ file, line: pos.line, column: pos.col, message: `the document nests more than ${MAX_DOCUMENT_DEPTH} levels deep` }]);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  // Before anything copies the document: a key like __proto__ would set a prototype.
  const forbidden = forbiddenKeys(raw);
  if (forbidden.length) fail(forbidden.map((p) => at(p, `"${String(p.at(-1))}" cannot be used as a key`, { key: true })));
  const parsed = workflowDef.safeParse(raw);
  if (!parsed.success) fail(zodProblems(parsed.error.issues, raw).map((p) => at(p.path, p.message, p)));
  const { workflow, problems } = compileWorkflow(parsed.data);
  if (problems.length) fail(problems.map((p) => at(p.path, p.message, p)));
  return toPackage(workflow, file, (p, message, opts) => at(p, message, opts), options);
}

/** How deeply a definition's maps and lists may nest (parameter schemas and values included). */
export const MAX_DOCUMENT_DEPTH = 100;

/** The first map or list nested deeper than `limit`, found without recursion (a deep document must not overflow the stack). */
function nodeDeeperThan(root: unknown, limit: number): YamlNode | undefined {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (isPair(node)) {
      stack.push([node.key, depth], [node.value, depth]);
    } else if (isCollection(node)) {
      if (depth + 1 > limit) return node;
      for (const item of node.items) stack.push([item, depth + 1]);
    }
  }
  return undefined;
}

/** Every `*.yaml` / `*.yml` file under a directory (recursively), sorted. */
export async function workflowFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/i.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/**
 * Loads every definition under a directory (a pack). Errors of all files are
 * reported together; nothing is returned unless every file is valid.
 */
export async function loadWorkflows(dir: string, options: DeclarativeOptions = {}): Promise<DeclarativePackage[]> {
  const files = await workflowFiles(dir);
  const packages: DeclarativePackage[] = [];
  const errors: Located[] = [];
  for (const file of files) {
    try {
      packages.push(parseWorkflow(await readFile(file, "utf8"), { ...options, file }));
    } catch (err) {
      if (err instanceof WorkflowError && Array.isArray(err.details)) errors.push(...(err.details as Located[]));
      else throw err;
    }
  }
  const refs = new Map<string, string>();
  for (const p of packages) {
    const key = `${p.ref}@${p.version}`;
    if (refs.has(key)) errors.push({ file: p.file, line: 1, column: 1, message: `${key} is also defined in ${refs.get(key)}` });
    refs.set(key, p.file);
  }
  if (errors.length) fail(errors);
  return packages;
}

/**
 * The expression language of declarative templates: what `{{ ... }}` may contain,
 * parsed by jsep into its syntax tree and converted here into a smaller tree of our
 * own. Anything outside that tree (function calls other than filters and `kv.get`,
 * `this`, assignments, regexes, `__proto__` / `constructor` / `prototype`) is
 * rejected at parse time, so the evaluator never meets it.
 */
import jsepAssignment from "@jsep-plugin/assignment";
import jsep from "jsep";
import { ErrorCodes, WorkflowError } from "../../errors.js";

/** Keys that would reach an object's prototype: never readable, written or named. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** The names a template may start from. */
export const ROOT_NAMES = ["parameters", "vars", "task", "item", "index", "system", "pack", "kv"] as const;
/** A name a template may start from. */
export type RootName = (typeof ROOT_NAMES)[number];

/** The binary operators of the tree. */
export type BinaryOp = "==" | "!=" | "<" | ">" | "<=" | ">=" | "+" | "-" | "*" | "/" | "%" | "and" | "or" | "in";
/** The unary operators of the tree. */
export type UnaryOp = "not" | "-" | "+";

/** The expression tree the evaluator walks. */
export type Expr =
  | { readonly type: "literal"; readonly value: string | number | boolean | null }
  | { readonly type: "root"; readonly name: RootName }
  | { readonly type: "member"; readonly object: Expr; readonly key: string | Expr }
  | { readonly type: "array"; readonly items: readonly Expr[] }
  | { readonly type: "unary"; readonly op: UnaryOp; readonly arg: Expr }
  | { readonly type: "binary"; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr }
  | { readonly type: "filter"; readonly input: Expr; readonly name: string; readonly args: readonly Expr[]; readonly kwargs: Readonly<Record<string, Expr>> }
  | { readonly type: "kv"; readonly secret: boolean; readonly key: string; readonly fallback?: Expr };

// jsep is configured once, for the whole process: Jinja-like word operators, and
// `|` (bitwise or in JavaScript) as the filter pipe, binding tighter than anything
// else so that `x | length > 3` means `(x | length) > 3` as in Jinja.
let configured = false;
function configure(): void {
  if (configured) return;
  configured = true;
  jsep.plugins.register(jsepAssignment as unknown as Parameters<typeof jsep.plugins.register>[0]);
  jsep.removeBinaryOp("|");
  jsep.addBinaryOp("|", 13);
  jsep.addBinaryOp("and", 2);
  jsep.addBinaryOp("or", 1);
  jsep.addBinaryOp("in", 7);
  jsep.addUnaryOp("not");
}

const BINARY: Record<string, BinaryOp> = {
  "==": "==", "===": "==", "!=": "!=", "!==": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=",
  "+": "+", "-": "-", "*": "*", "/": "/", "%": "%", and: "and", "&&": "and", or: "or", "||": "or", in: "in",
};
const UNARY: Record<string, UnaryOp> = { not: "not", "!": "not", "-": "-", "+": "+" };

/** An error in what an author wrote: `invalid_workflow` at load time, with the offset into the expression. */
export function syntaxError(message: string, offset = 0): WorkflowError {
  return new WorkflowError(ErrorCodes.invalidWorkflow, message, { details: { offset } });
}

function checkKey(key: string): string {
  if (FORBIDDEN_KEYS.has(key)) throw syntaxError(`"${key}" cannot be read in a template`);
  return key;
}

type JsepNode = jsep.Expression & Record<string, unknown>;

function convertArgs(nodes: readonly JsepNode[]): { args: Expr[]; kwargs: Record<string, Expr> } {
  const args: Expr[] = [];
  const kwargs: Record<string, Expr> = Object.create(null) as Record<string, Expr>;
  for (const node of nodes) {
    if (node.type === "AssignmentExpression" && node.operator === "=") {
      const left = node.left as JsepNode;
      if (left.type !== "Identifier") throw syntaxError("a named argument is written name=value");
      kwargs[checkKey(left.name as string)] = convert(node.right as JsepNode);
    } else {
      if (Object.keys(kwargs).length) throw syntaxError("positional arguments come before named ones");
      args.push(convert(node));
    }
  }
  return { args, kwargs };
}

/** `kv.get('key', default=x)` / `kv.get_secret('key')`: keys are literal strings, so they can be fetched before evaluation. */
function convertKvCall(node: JsepNode, method: string): Expr {
  const { args, kwargs } = convertArgs(node.arguments as JsepNode[]);
  const key = args[0];
  if (!key || key.type !== "literal" || typeof key.value !== "string") throw syntaxError(`kv.${method} takes a key as a quoted string`);
  const fallback = kwargs.default ?? args[1];
  return { type: "kv", secret: method === "get_secret", key: key.value, ...(fallback ? { fallback } : {}) };
}

function convertFilter(input: Expr, node: JsepNode): Expr {
  if (node.type === "Identifier") return { type: "filter", input, name: node.name as string, args: [], kwargs: {} };
  if (node.type === "CallExpression" && (node.callee as JsepNode).type === "Identifier") {
    return { type: "filter", input, name: (node.callee as JsepNode).name as string, ...convertArgs(node.arguments as JsepNode[]) };
  }
  throw syntaxError("after | comes a filter name, e.g. | upper or | default('x')");
}

function convert(node: JsepNode): Expr {
  switch (node.type) {
    case "Literal": {
      const value = node.value;
      if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") return { type: "literal", value };
      throw syntaxError(`${String(node.raw)} is not a value a template can hold`);
    }
    case "Identifier": {
      const name = node.name as string;
      if (name === "true" || name === "false") return { type: "literal", value: name === "true" };
      if (name === "null" || name === "none") return { type: "literal", value: null };
      if ((ROOT_NAMES as readonly string[]).includes(name)) return { type: "root", name: name as RootName };
      throw syntaxError(`unknown name "${name}": a template starts from ${ROOT_NAMES.join(", ")}`);
    }
    case "MemberExpression": {
      const object = convert(node.object as JsepNode);
      const property = node.property as JsepNode;
      if (!node.computed) return { type: "member", object, key: checkKey(property.name as string) };
      const key = convert(property);
      if (key.type === "literal" && typeof key.value === "string") return { type: "member", object, key: checkKey(key.value) };
      return { type: "member", object, key };
    }
    case "ArrayExpression":
      return { type: "array", items: (node.elements as (JsepNode | null)[]).map((e) => (e ? convert(e) : { type: "literal", value: null })) };
    case "UnaryExpression": {
      const op = UNARY[node.operator as string];
      if (!op) throw syntaxError(`operator ${String(node.operator)} is not supported`);
      return { type: "unary", op, arg: convert(node.argument as JsepNode) };
    }
    case "BinaryExpression": {
      if (node.operator === "|") return convertFilter(convert(node.left as JsepNode), node.right as JsepNode);
      const op = BINARY[node.operator as string];
      if (!op) throw syntaxError(`operator ${String(node.operator)} is not supported`);
      return { type: "binary", op, left: convert(node.left as JsepNode), right: convert(node.right as JsepNode) };
    }
    case "CallExpression": {
      const callee = node.callee as JsepNode;
      const object = callee.type === "MemberExpression" ? (callee.object as JsepNode) : undefined;
      const method = callee.type === "MemberExpression" && !callee.computed ? ((callee.property as JsepNode).name as string) : undefined;
      if (object?.type === "Identifier" && object.name === "kv" && (method === "get" || method === "get_secret")) return convertKvCall(node, method);
      throw syntaxError("templates call no functions (except kv.get and kv.get_secret); use a filter: value | name(args)");
    }
    default:
      throw syntaxError(`${node.type} is not allowed in a template`);
  }
}

/** How deeply one expression may nest (brackets, operators, filters, member reads). */
export const MAX_EXPRESSION_DEPTH = 100;

const tooDeep = () => syntaxError(`an expression nests more than ${MAX_EXPRESSION_DEPTH} levels deep`);

/** The nesting depth of a jsep tree, walked without recursion (a deep tree must not overflow the stack). */
function depthOf(tree: JsepNode): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[tree, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (Array.isArray(node)) {
      for (const item of node) stack.push([item, depth]);
      continue;
    }
    if (typeof node !== "object" || node === null || typeof (node as { type?: unknown }).type !== "string") continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_EXPRESSION_DEPTH) return deepest;
    for (const [key, value] of Object.entries(node)) if (key !== "type" && typeof value === "object") stack.push([value, depth + 1]);
  }
  return deepest;
}

/** Parses one expression (the text between `{{` and `}}`); `invalid_workflow` with the offset on a syntax error. */
export function parseExpression(source: string): Expr {
  configure();
  let tree: JsepNode;
  try {
    tree = jsep(source) as JsepNode;
  } catch (err) {
    // jsep parses recursively: thousands of nested brackets overflow its stack.
    if (err instanceof RangeError) throw tooDeep();
    const e = err as { description?: string; index?: number; message?: string };
    throw syntaxError(`template syntax: ${e.description ?? e.message ?? String(err)}`, e.index ?? 0);
  }
  if (tree.type === "Compound") throw syntaxError("a template holds one expression");
  if (tree === undefined || (tree.type as string) === "") throw syntaxError("empty template");
  // Everything after this (checks, evaluation) walks the tree recursively: bound its depth first.
  if (depthOf(tree) > MAX_EXPRESSION_DEPTH) throw tooDeep();
  return convert(tree);
}

/** Every `task.<name>` an expression reads, and every `kv` key: fetched before evaluation. */
export function collectReferences(expr: Expr, into: { tasks: Set<string>; kv: Set<string>; roots: Set<RootName> }): void {
  switch (expr.type) {
    case "root":
      into.roots.add(expr.name);
      return;
    case "member":
      if (expr.object.type === "root" && expr.object.name === "task" && typeof expr.key === "string") into.tasks.add(expr.key);
      collectReferences(expr.object, into);
      if (typeof expr.key !== "string") collectReferences(expr.key, into);
      return;
    case "array":
      for (const item of expr.items) collectReferences(item, into);
      return;
    case "unary":
      collectReferences(expr.arg, into);
      return;
    case "binary":
      collectReferences(expr.left, into);
      collectReferences(expr.right, into);
      return;
    case "filter":
      collectReferences(expr.input, into);
      for (const a of expr.args) collectReferences(a, into);
      for (const a of Object.values(expr.kwargs)) collectReferences(a, into);
      return;
    case "kv":
      into.kv.add(expr.key);
      if (expr.fallback) collectReferences(expr.fallback, into);
      return;
    case "literal":
      return;
  }
}

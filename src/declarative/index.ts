/**
 * `trellis/declarative`: workflows written as YAML definitions, run by the same
 * durable engine as packages built in code. `parseWorkflow` / `loadWorkflows`
 * return packages for `rt.registerPackage`; the YAML parser and the expression
 * parser are loaded only through this entry point.
 *
 * @module
 */
export { parseWorkflow, loadWorkflows, workflowFiles, type ParseOptions } from "./loader.js";
export type { DeclarativePackage } from "./workflow-package.js";
export type { DeclarativeOptions, NodeResult, TaskView } from "./context.js";
export { MAX_CHILD_DEPTH, MAX_ITEMS } from "./context.js";
export { MAX_TASKS } from "./compile.js";
export { MAX_TEMPLATE_CHARS } from "./expressions/template.js";
export { inquirySignalName, checkInquiryAnswer } from "./inquiry.js";
export { formatLocated, type Located } from "./locate.js";
export { renderString } from "./expressions/template.js";
export { newBudget, type Budget } from "./expressions/values.js";
export type { Scope } from "./expressions/evaluate.js";
export { definitionGraph } from "./graph.js";

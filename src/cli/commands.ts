import type { CommandEntry } from "./command.js";

/**
 * Every `trellis` subcommand, in the order `trellis --help` lists them. Each module
 * is imported only when its command runs.
 */
export const commands: readonly CommandEntry[] = [
  { name: "validate", summary: "check declarative workflow definitions", load: async () => (await import("./commands/validate.js")).validateCommand },
  { name: "graph", summary: "draw a declarative workflow definition (mermaid, dot or svg)", load: async () => (await import("./commands/graph.js")).graphCommand },
  { name: "run", summary: "run a declarative workflow until it finishes", load: async () => (await import("./commands/run.js")).runCommand },
  { name: "admin", summary: "serve the admin page for a store (read-only unless --allow-actions)", load: async () => (await import("./commands/admin.js")).adminCommand },
  { name: "version", summary: "print the trellis version", load: async () => (await import("./commands/version.js")).versionCommand },
  { name: "runs", summary: "list, show, graph, retry, cancel, pause, resume, signal and purge runs", load: async () => (await import("./commands/runs.js")).runsCommand },
  { name: "schedules", summary: "list, pause and resume schedules", load: async () => (await import("./commands/schedules.js")).schedulesCommand },
];

import type { CommandEntry } from "./command.js";

/**
 * Every `trellis` subcommand, in the order `trellis --help` lists them. Each module
 * is imported only when its command runs.
 */
export const commands: readonly CommandEntry[] = [
  { name: "validate", summary: "check declarative workflow definitions", load: async () => (await import("./commands/validate.js")).validateCommand },
  { name: "run", summary: "run a declarative workflow until it finishes", load: async () => (await import("./commands/run.js")).runCommand },
  { name: "version", summary: "print the trellis version", load: async () => (await import("./commands/version.js")).versionCommand },
];

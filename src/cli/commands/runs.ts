/**
 * `trellis runs <subcommand>`: operator reads and actions over a store, with no
 * workers. Each subcommand lives in `src/cli/runs/`; this file only dispatches.
 */
import { ErrorCodes, WorkflowError } from "../../errors.js";
import { ExitCodes, type CliCommand } from "../command.js";
import { cancel, pause, purge, resume, retry, retryRun, signal } from "../runs/action-commands.js";
import { events, graph, list, show } from "../runs/read-commands.js";
import type { Subcommand } from "../runs/subcommand.js";

const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  list,
  show,
  events,
  graph,
  retry,
  "retry-run": retryRun,
  cancel,
  pause,
  resume,
  signal,
  purge,
};

function usage(): string {
  const names = Object.keys(SUBCOMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  const lines = names.map((n) => `  ${n.padEnd(width)}  ${SUBCOMMANDS[n]?.summary}`);
  return [
    "usage: trellis runs <subcommand> [arguments] [--store URL] [--json]",
    "",
    "subcommands:",
    ...lines,
    "",
    "--store sqlite:<path> (default sqlite:./var/trellis.db) or a postgres:// URL (?schema=name picks the schema).",
    "--json prints JSON for scripts. Exit codes: 0 done, 1 refused or not found, 2 bad usage.",
    "",
  ].join("\n");
}

export const runsCommand: CliCommand = {
  async run(argv, io) {
    const [name, ...rest] = argv;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      (name === undefined ? io.stderr : io.stdout).write(usage());
      return name === undefined ? ExitCodes.usage : ExitCodes.ok;
    }
    const sub = SUBCOMMANDS[name];
    if (!sub || !Object.hasOwn(SUBCOMMANDS, name)) throw new WorkflowError(ErrorCodes.invalidArgument, `unknown subcommand "${name}"; 'trellis runs --help' lists them`);
    if (rest.includes("--help") || rest.includes("-h")) {
      io.stdout.write(`usage: ${sub.usage}\n`);
      return ExitCodes.ok;
    }
    return sub.run(rest, io);
  },
};

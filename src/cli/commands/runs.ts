/**
 * `trellis runs <subcommand>`: operator reads and actions over a store, with no
 * workers. Each subcommand lives in `src/cli/runs/`; this file only dispatches.
 */
import type { CliCommand } from "../command.js";
import { cancel, pause, purge, resume, retry, retryRun, signal } from "../runs/action-commands.js";
import { events, graph, list, show } from "../runs/read-commands.js";
import { subcommands } from "../runs/dispatch.js";
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

export const runsCommand: CliCommand = subcommands("runs", SUBCOMMANDS);

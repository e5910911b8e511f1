/**
 * The shape every `trellis` subcommand has. A command parses its own arguments
 * (with `node:util` `parseArgs`), writes to the given streams, and returns its exit
 * code; it never calls `process.exit`, so tests run commands in-process.
 */
export interface CliIO {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream;
  /** Aborted on SIGINT / SIGTERM; long-running commands (workers, servers) stop on it. */
  readonly signal: AbortSignal;
  /** The working directory relative paths resolve against. */
  readonly cwd: string;
}

/** Exit codes shared by every command. */
export const ExitCodes = {
  /** The command did what was asked (for `run`: the run succeeded). */
  ok: 0,
  /** The command ran, and what it reports failed (a run failed or was canceled, an action was refused). */
  failed: 1,
  /** Bad usage or invalid input: unknown option, missing argument, invalid workflow file. */
  usage: 2,
} as const;

export interface CliCommand {
  /** Runs the command with the arguments after its name. */
  run(argv: string[], io: CliIO): Promise<number>;
}

/** One line of the command table: loaded only when invoked, so `trellis validate` never loads a driver. */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<CliCommand>;
}

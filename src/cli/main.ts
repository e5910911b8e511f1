/**
 * The `trellis` bin: finds the subcommand in the table, runs it, and turns its
 * result into the process's exit code. Errors are printed as one line (the
 * `WorkflowError` message and code), never a stack trace, unless TRELLIS_DEBUG is set.
 */
import { isWorkflowError } from "../errors.js";
import { ExitCodes, type CliIO } from "./command.js";
import { commands } from "./commands.js";

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `usage: trellis <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n'trellis <command> --help' shows a command's options.\n`;
}

/** Runs one command line in-process and returns its exit code (the bin and the tests share this). */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? io.stderr : io.stdout).write(usage());
    return name === undefined ? ExitCodes.usage : ExitCodes.ok;
  }
  if (name === "--version" || name === "-v") return main(["version"], io);
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    io.stderr.write(`trellis: unknown command "${name}"\n\n${usage()}`);
    return ExitCodes.usage;
  }
  try {
    const command = await entry.load();
    return await command.run(rest, io);
  } catch (err) {
    if (process.env.TRELLIS_DEBUG) io.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    if (isWorkflowError(err)) {
      io.stderr.write(`trellis ${name}: ${err.message} [${err.code}]\n`);
      return err.code === "invalid_argument" || err.code === "invalid_workflow" ? ExitCodes.usage : ExitCodes.failed;
    }
    io.stderr.write(`trellis ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCodes.failed;
  }
}

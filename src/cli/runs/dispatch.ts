/**
 * A command made of subcommands (`trellis runs ...`, `trellis schedules ...`):
 * its usage lists them, `--help` prints one's usage, an unknown one is a usage
 * error (`invalid_argument`, exit code 2).
 */
import { ErrorCodes, WorkflowError } from "../../errors.js";
import { ExitCodes, type CliCommand } from "../command.js";
import type { Subcommand } from "./subcommand.js";

export function subcommands(command: string, table: Readonly<Record<string, Subcommand>>): CliCommand {
  const usage = () => {
    const names = Object.keys(table);
    const width = Math.max(...names.map((n) => n.length));
    return [
      `usage: trellis ${command} <subcommand> [arguments] [--store URL] [--json]`,
      "",
      "subcommands:",
      ...names.map((n) => `  ${n.padEnd(width)}  ${table[n]?.summary}`),
      "",
      "--store sqlite:<path> (default sqlite:./var/trellis.db) or a postgres:// URL (?schema=name picks the schema).",
      "--json prints JSON for scripts. Exit codes: 0 done, 1 refused or not found, 2 bad usage.",
      "",
    ].join("\n");
  };
  return {
    async run(argv, io) {
      const [name, ...rest] = argv;
      if (name === undefined || name === "--help" || name === "-h" || name === "help") {
        (name === undefined ? io.stderr : io.stdout).write(usage());
        return name === undefined ? ExitCodes.usage : ExitCodes.ok;
      }
      const sub = table[name];
      if (!sub || !Object.hasOwn(table, name)) throw new WorkflowError(ErrorCodes.invalidArgument, `unknown subcommand "${name}"; 'trellis ${command} --help' lists them`);
      if (rest.includes("--help") || rest.includes("-h")) {
        io.stdout.write(`usage: ${sub.usage}\n`);
        return ExitCodes.ok;
      }
      return sub.run(rest, io);
    },
  };
}

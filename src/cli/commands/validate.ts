/**
 * `trellis validate <file|dir>...`: checks definitions without running anything.
 * Prints `ok <ref>@<version>` per valid definition and exits 0, or one
 * `file:line:column: message` line per error and exits 1.
 */
import { parseArgs } from "node:util";
import { ErrorCodes, WorkflowError } from "../../errors.js";
import { type CliCommand, ExitCodes } from "../command.js";
import { loadDefinitions } from "./declarative-files.js";

const HELP = `usage: trellis validate <file|dir>...

Checks declarative workflow definitions (*.yaml, *.yml; directories recursively).
Prints "ok <ref>@<version>" per definition, or "file:line:column: message" per error.
Exit code 0 when every definition is valid, 1 otherwise.
`;

/** `trellis validate`. */
export const validateCommand: CliCommand = {
  async run(argv, io) {
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: "boolean", short: "h" } } });
    } catch (err) {
      throw new WorkflowError(ErrorCodes.invalidArgument, (err as Error).message);
    }
    if (parsed.values.help) {
      io.stdout.write(HELP);
      return ExitCodes.ok;
    }
    if (parsed.positionals.length === 0) {
      io.stderr.write(HELP);
      return ExitCodes.usage;
    }
    const { packages, errors } = await loadDefinitions(parsed.positionals, io.cwd);
    for (const p of packages) io.stdout.write(`ok ${p.ref}@${p.version}\n`);
    for (const e of errors) io.stdout.write(`${e.file}:${e.line}:${e.column}: ${e.message}\n`);
    return errors.length ? ExitCodes.failed : ExitCodes.ok;
  },
};

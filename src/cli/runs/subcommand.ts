import type { CliIO } from "../command.js";

/** One `trellis runs <name>` subcommand. */
export interface Subcommand {
  /** The full usage line, printed on `--help` and with usage errors. */
  readonly usage: string;
  /** One line for `trellis runs --help`. */
  readonly summary: string;
  run(argv: string[], io: CliIO): Promise<number>;
}

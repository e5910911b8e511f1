/**
 * `trellis graph <file> [--format mermaid|dot|svg]`: a declarative definition's
 * graph (tasks, transitions by kind, parallel blocks, iterations, inquiries,
 * subworkflows) drawn by the same renderers as run graphs. Deterministic: the
 * same file gives byte-identical output.
 */
import { parseArgs } from "node:util";
import { ErrorCodes, WorkflowError } from "../../errors.js";
import { type CliCommand, ExitCodes } from "../command.js";
import { loadDefinitions } from "./declarative-files.js";

const FORMATS = ["mermaid", "dot", "svg"] as const;

const HELP = `usage: trellis graph <file> [--format mermaid|dot|svg]

Prints the graph of a declarative workflow definition on stdout (default: mermaid).
Refs of other definitions given in the same directory are drawn as subworkflows.
Exit code 0, or 2 with one "file:line:column: message" line per author error.
`;

/** `trellis graph`. */
export const graphCommand: CliCommand = {
  async run(argv, io) {
    const parsed = parseOptions(argv);
    if (parsed.values.help) {
      io.stdout.write(HELP);
      return ExitCodes.ok;
    }
    if (parsed.positionals.length !== 1) {
      io.stderr.write(HELP);
      return ExitCodes.usage;
    }
    const format = parsed.values.format ?? "mermaid";
    if (!(FORMATS as readonly string[]).includes(format)) throw new WorkflowError(ErrorCodes.invalidArgument, `--format ${format}: expected one of ${FORMATS.join(", ")}`);
    const { packages, errors } = await loadDefinitions(parsed.positionals, io.cwd);
    if (errors.length) {
      for (const e of errors) io.stderr.write(`${e.file}:${e.line}:${e.column}: ${e.message}\n`);
      return ExitCodes.usage;
    }
    const [pkg] = packages;
    if (!pkg || packages.length > 1) throw new WorkflowError(ErrorCodes.invalidArgument, `${parsed.positionals[0]}: give one definition file (it holds ${packages.length})`);
    const [{ definitionGraph }, { renderMermaid }, { renderDot }, { renderSvg }] = await Promise.all([
      import("../../declarative/graph.js"),
      import("../../graph/mermaid.js"),
      import("../../graph/dot.js"),
      import("../../graph/svg.js"),
    ]);
    const model = definitionGraph(pkg.workflow);
    io.stdout.write(format === "svg" ? await renderSvg(model) : format === "dot" ? renderDot(model) : renderMermaid(model));
    return ExitCodes.ok;
  },
};

function parseOptions(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: { help: { type: "boolean", short: "h" }, format: { type: "string" } } });
  } catch (err) {
    throw new WorkflowError(ErrorCodes.invalidArgument, (err as Error).message);
  }
}

/**
 * What every `trellis runs` subcommand shares: parsing its options (a usage
 * error is an `invalid_argument`, exit code 2), and a runtime opened on
 * `--store` for the length of one command, with no workers.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { newRuntime } from "../../engine/new-runtime.js";
import type { Runtime } from "../../engine/runtime.js";
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { CliIO } from "../command.js";
import { DEFAULT_STORE_URL, storeFromUrl } from "../store-url.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Options every subcommand takes. */
export const COMMON_OPTIONS = {
  store: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

export interface Parsed<O extends Options> {
  values: { [K in keyof O]?: O[K] extends { type: "boolean" } ? boolean : O[K] extends { multiple: true } ? string[] : string } & {
    store?: string;
    json?: boolean;
    help?: boolean;
  };
  positionals: string[];
}

/**
 * Parses a subcommand's arguments: its own options plus the common ones, and
 * exactly `names.length` positionals (`usage` names them in the message).
 */
export function parse<O extends Options>(argv: string[], options: O, names: readonly string[], usage: string): Parsed<O> {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new WorkflowError(ErrorCodes.invalidArgument, `${(err as Error).message}\nusage: ${usage}`);
  }
  if (!parsed.values.help && parsed.positionals.length !== names.length) {
    const missing = parsed.positionals.length < names.length;
    throw new WorkflowError(ErrorCodes.invalidArgument, `${missing ? `missing ${names.slice(parsed.positionals.length).join(", ")}` : `unexpected argument "${parsed.positionals[names.length]}"`}\nusage: ${usage}`);
  }
  return parsed as Parsed<O>;
}

/**
 * Opens a runtime on `--store` (default `sqlite:./var/trellis.db`), runs `fn`,
 * and closes it. No worker runs: reads read, actions write their one
 * transaction. A `sqlite:` file that does not exist is refused rather than
 * created, so a mistyped path does not leave an empty store behind.
 */
export async function withRuntime<T>(store: string | undefined, io: CliIO, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const url = store ?? DEFAULT_STORE_URL;
  const config = await storeFromUrl(url, io.cwd);
  if (url.startsWith("sqlite:") && url !== "sqlite::memory:") {
    const file = path.resolve(io.cwd, url.slice("sqlite:".length));
    if (!fs.existsSync(file)) throw new WorkflowError(ErrorCodes.invalidArgument, `--store ${url}: no such file (${file})`);
  }
  // Store failures the runtime survives go to stderr, not to the console of a library default.
  const rt = await newRuntime({ store: config, onError: (err) => io.stderr.write(`trellis: ${(err as Error)?.message ?? String(err)}\n`) });
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

/**
 * Running `trellis ...` from a test: in this process through `main` (fast, the
 * source under test), or as the built bin in a child process (what a user
 * runs; `npm test` builds first). Both answer the exit code and the output.
 * And the stores the CLI tests use, each as a config and as its `--store` URL.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { main } from "../../src/cli/main.js";
import { sqliteStore, type StoreConfig } from "../../src/index.js";
import { postgresStore } from "../../src/postgres.js";
import { pgUrl, usePostgresSchemas } from "./postgres.js";

/** What a `trellis` invocation ended with. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const bin = path.resolve(import.meta.dirname, "../../dist/cli.js");
const exec = promisify(execFile);

/** `trellis ...argv` in this process, with `cwd` as its working directory. */
export function inProcessCli(cwd: string): (...argv: string[]) => Promise<CliResult> {
  return async (...argv) => {
    const out: string[] = [];
    const err: string[] = [];
    const sink = (into: string[]) => new Writable({ write: (chunk, _enc, done) => done(void into.push(String(chunk))) });
    const code = await main(argv, { stdout: sink(out), stderr: sink(err), signal: new AbortController().signal, cwd });
    return { code, stdout: out.join(""), stderr: err.join("") };
  };
}

/** `trellis ...argv` as the built bin in a child process, in `cwd` (default: this one). */
export function binCli(cwd?: string): (...argv: string[]) => Promise<CliResult> {
  return async (...argv) => {
    try {
      const { stdout, stderr } = await exec(process.execPath, [bin, ...argv], cwd === undefined ? {} : { cwd });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as CliResult;
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
}

/** A store both as a config (for the test's own runtime) and as the `--store` URL the CLI takes. */
export interface CliStoreTarget {
  name: string;
  fresh(): { config: StoreConfig; url: string };
}

/** A fresh SQLite file in `dir` and a fresh Postgres schema (prefix `prefix`), each with its URL. */
export function cliStoreTargets(prefix: string, dir: string): CliStoreTarget[] {
  const schemas = usePostgresSchemas(prefix);
  let files = 0;
  return [
    {
      name: "sqlite",
      fresh: () => {
        const file = path.join(dir, `store-${++files}.db`);
        return { config: sqliteStore(file), url: `sqlite:${file}` };
      },
    },
    {
      name: "postgres",
      fresh: () => {
        const schema = schemas.schema();
        const url = new URL(pgUrl());
        url.searchParams.set("schema", schema);
        return { config: postgresStore({ connectionString: pgUrl(), schema }), url: url.toString() };
      },
    },
  ];
}

/**
 * What the declarative commands share: loading definitions from files and
 * directories given on the command line, with every author error kept.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { DeclarativePackage, Located, ParseOptions } from "../../declarative/index.js";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../../errors.js";

/** Definitions loaded from files and directories, and every author error found on the way. */
export interface Loaded {
  packages: DeclarativePackage[];
  errors: Located[];
}

/** Loads each argument (a file, or a directory of `*.yaml` / `*.yml`); relative to `cwd`. */
export async function loadDefinitions(args: readonly string[], cwd: string, options: ParseOptions = {}): Promise<Loaded> {
  // The declarative entry (and its YAML parser) loads only for the commands that need it.
  const { parseWorkflow, workflowFiles } = await import("../../declarative/index.js");
  const loaded: Loaded = { packages: [], errors: [] };
  for (const arg of args) {
    const target = path.resolve(cwd, arg);
    const info = await stat(target).catch(() => undefined);
    if (!info) throw new WorkflowError(ErrorCodes.invalidArgument, `${arg}: no such file or directory`);
    const files = info.isDirectory() ? await workflowFiles(target) : [target];
    for (const file of files) {
      const shown = path.relative(cwd, file) || file;
      try {
        loaded.packages.push(parseWorkflow(await readFile(file, "utf8"), { ...options, file: shown }));
      } catch (err) {
        if (isWorkflowError(err) && Array.isArray(err.details)) loaded.errors.push(...(err.details as Located[]));
        else throw err;
      }
    }
  }
  return loaded;
}

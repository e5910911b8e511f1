/**
 * Workflow packages: a name and an entrypoint that lays out a run's first steps.
 */
import type { z } from "zod";
import { ErrorCodes, WorkflowError } from "./errors.js";
import type { Executor } from "./executor.js";
import type { RunBuilder } from "./run-builder.js";

export type EntrypointFn<I> = (run: RunBuilder, input: I) => Promise<void> | void;

/** A registered unit of workflows, as built by {@link newPackage}. */
export interface WorkflowPackage {
  readonly name: string;
  readonly displayName: string;
  /** Validates run input (`invalid_input` on mismatch); absent for untyped entrypoints. */
  readonly inputSchema?: z.ZodType<unknown>;
  readonly entrypoint: EntrypointFn<unknown>;
  /**
   * Packages that carry a version may be registered side by side under one name;
   * `startRun` takes the newest unless `{ version }` picks one.
   */
  readonly version?: string;
  /**
   * Executors the package brings for step kinds of its own (a declarative
   * workflow's routing steps); `registerPackage` registers them with it.
   */
  readonly executors?: readonly Executor[];
  /** Told, at `registerPackage`, what the runtime has registered (a declarative workflow resolves its actions with it). */
  readonly attach?: (host: PackageHost) => void;
  /**
   * Called before workers first run (`startWorkers`, `runOnce`): throws (e.g.
   * `invalid_workflow` for an action nobody registered) when the package cannot work.
   */
  readonly verify?: () => void;
}

/** What a package may ask the runtime it is registered on. */
export interface PackageHost {
  /** The executor registered for a kind. */
  executor(kind: string): Executor | undefined;
  /** Whether a package of that name is registered. */
  hasPackage(name: string): boolean;
}

export class PackageBuilder {
  readonly #name: string;
  #displayName?: string;
  #schema?: z.ZodType<unknown>;
  #entrypoint?: EntrypointFn<unknown>;

  constructor(name: string) {
    this.#name = name;
  }

  displayName(text: string): this {
    this.#displayName = text;
    return this;
  }

  /** The entrypoint, with a zod schema for the run input or without one. */
  entrypoint(fn: EntrypointFn<unknown>): this;
  entrypoint<I>(schema: z.ZodType<I>, fn: EntrypointFn<I>): this;
  entrypoint<I>(schemaOrFn: z.ZodType<I> | EntrypointFn<unknown>, fn?: EntrypointFn<I>): this {
    if (typeof schemaOrFn === "function") {
      this.#entrypoint = schemaOrFn;
      this.#schema = undefined;
    } else {
      this.#schema = schemaOrFn as z.ZodType<unknown>;
      this.#entrypoint = fn as EntrypointFn<unknown>;
    }
    return this;
  }

  build(): WorkflowPackage {
    if (typeof this.#name !== "string" || this.#name.trim() === "") {
      throw new WorkflowError(ErrorCodes.invalidInput, "a workflow package needs a non-empty name");
    }
    if (typeof this.#entrypoint !== "function") {
      throw new WorkflowError(ErrorCodes.invalidInput, `workflow package "${this.#name}" needs an entrypoint function`);
    }
    const pkg: WorkflowPackage = {
      name: this.#name,
      displayName: this.#displayName ?? this.#name,
      entrypoint: this.#entrypoint,
      ...(this.#schema ? { inputSchema: this.#schema } : {}),
    };
    return Object.freeze(pkg);
  }
}

/** Starts building a workflow package: `newPackage("orders").entrypoint(...).build()`. */
export function newPackage(name: string): PackageBuilder {
  return new PackageBuilder(name);
}

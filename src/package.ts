/**
 * Workflow packages: a name and an entrypoint that lays out a run's first steps.
 */
import { ErrorCodes, WorkflowError } from "./errors.js";
import type { Executor } from "./executor.js";
import type { RunBuilder } from "./run-builder.js";
import type { StepHandle } from "./step-options.js";
import { type InferInput, type InferOutput, isSchema, type Schema } from "./schema.js";

/**
 * Lays out a run's first steps. It may return the handle of the step whose
 * result is the run's output (the same as `run.output(handle)`): the package
 * then carries that step's output type.
 */
export type EntrypointFn<I, O = unknown> = (run: RunBuilder, input: I) => EntrypointReturn<O> | Promise<EntrypointReturn<O>>;

/** What an entrypoint returns: nothing, or its output step's handle. */
export type EntrypointReturn<O> = StepHandle<O> | void;

/**
 * A registered unit of workflows, as built by {@link newPackage}. `Input` is what
 * `rt.startRun(pkg, input)` accepts: the input type of the package's schema, or
 * what its entrypoint declares. `Output` is the run's output (`rt.output(handle)`):
 * the output type of the step handle its entrypoint returns.
 */
export interface WorkflowPackage<Input = unknown, Output = unknown> {
  /** What runs are started by (`rt.startRun(name, ...)`) and stored under (`WorkflowRun.package`). */
  readonly name: string;
  /** The default name of its runs (`WorkflowRun.name`); `name` unless `displayName()` set one. */
  readonly displayName: string;
  /** Validates run input (`invalid_input` on mismatch); absent for untyped entrypoints. */
  readonly inputSchema?: Schema;
  /** Called by `startRun` with the run builder and the (validated) input to lay out the run's first steps. */
  readonly entrypoint: EntrypointFn<unknown>;
  /**
   * Never set: it carries the input type, so that passing the package object to
   * `startRun` checks the input at compile time.
   */
  readonly __input?: Input;
  /** Never set: it carries the output type (see `Input`). */
  readonly __output?: Output;
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

/** The run input a package accepts. */
export type PackageInput<P> = P extends WorkflowPackage<infer I, unknown> ? I : never;

/** The run output a package produces. */
export type PackageOutput<P> = P extends WorkflowPackage<unknown, infer O> ? O : unknown;

/**
 * Builds a {@link WorkflowPackage}; start one with {@link newPackage}. `Input`
 * and `Output` are set by `entrypoint(...)`.
 */
export class PackageBuilder<Input = unknown, Output = unknown> {
  readonly #name: string;
  #displayName?: string;
  #schema?: Schema;
  #entrypoint?: EntrypointFn<unknown>;
  #version?: string;

  constructor(name: string) {
    this.#name = name;
  }

  /** Sets the package's display name: the default name of its runs (default: the package name). */
  displayName(text: string): this {
    this.#displayName = text;
    return this;
  }

  /**
   * The package's version. Versions of one package may be registered side by
   * side: `startRun` takes the newest (ordered by `compareVersions`: numeric
   * parts numerically) unless `{ version }` names one, and each run records the
   * version it started with (`WorkflowRun.packageVersion`). Any non-empty text
   * up to 100 characters, e.g. `"2"` or `"2.1.0"`. See docs/deploying.md.
   */
  version(v: string): this {
    this.#version = v;
    return this;
  }

  /**
   * The entrypoint, with a schema for the run input (any Standard Schema: zod,
   * valibot, arktype, ...) or without one. With a schema, `startRun` validates the
   * input first and the entrypoint receives the schema's output.
   */
  entrypoint<I = unknown, O = unknown>(fn: EntrypointFn<I, O>): PackageBuilder<I, O>;
  entrypoint<S extends Schema, O = unknown>(schema: S, fn: EntrypointFn<InferOutput<S>, O>): PackageBuilder<InferInput<S>, O>;
  entrypoint(schemaOrFn: Schema | EntrypointFn<unknown>, fn?: EntrypointFn<unknown>): PackageBuilder<unknown, unknown> {
    // A schema first: some libraries' schemas are callable (arktype).
    if (isSchema(schemaOrFn)) {
      this.#schema = schemaOrFn;
      this.#entrypoint = fn;
    } else {
      this.#entrypoint = schemaOrFn as EntrypointFn<unknown>;
      this.#schema = undefined;
    }
    return this as PackageBuilder<unknown, unknown>;
  }

  /**
   * The frozen package, for `rt.registerPackage`. Throws `invalid_input` when the
   * name is empty or no entrypoint was given.
   */
  build(): WorkflowPackage<Input, Output> {
    if (typeof this.#name !== "string" || this.#name.trim() === "") {
      throw new WorkflowError(ErrorCodes.invalidInput, "a workflow package needs a non-empty name");
    }
    if (typeof this.#entrypoint !== "function") {
      throw new WorkflowError(ErrorCodes.invalidInput, `workflow package "${this.#name}" needs an entrypoint function`);
    }
    const version = this.#version;
    if (version !== undefined && (typeof version !== "string" || version.trim() === "" || version.length > 100 || version.includes("\u0000"))) {
      throw new WorkflowError(ErrorCodes.invalidInput, `workflow package "${this.#name}": a version must be non-empty text of at most 100 characters without NUL`);
    }
    const pkg: WorkflowPackage<Input, Output> = {
      name: this.#name,
      displayName: this.#displayName ?? this.#name,
      entrypoint: this.#entrypoint,
      ...(this.#schema ? { inputSchema: this.#schema } : {}),
      ...(version !== undefined ? { version } : {}),
    };
    return Object.freeze(pkg);
  }
}

/** Starts building a workflow package: `newPackage("orders").entrypoint(...).build()`. */
export function newPackage(name: string): PackageBuilder {
  return new PackageBuilder(name);
}

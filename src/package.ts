/**
 * Workflow packages: a name and an entrypoint that lays out a run's first steps.
 */
import type { z } from "zod";
import { ErrorCodes, WorkflowError } from "./errors.js";
import type { RunBuilder } from "./run-builder.js";

export type EntrypointFn<I> = (run: RunBuilder, input: I) => Promise<void> | void;

/** A registered unit of workflows, as built by {@link newPackage}. */
export interface WorkflowPackage {
  readonly name: string;
  readonly displayName: string;
  /** Validates run input (`invalid_input` on mismatch); absent for untyped entrypoints. */
  readonly inputSchema?: z.ZodType<unknown>;
  readonly entrypoint: EntrypointFn<unknown>;
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

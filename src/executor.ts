/**
 * Executors: the code that runs a step of a given kind.
 */
import { ErrorCodes, WorkflowError } from "./errors.js";
import { type InferInput, type InferOutput, isSchema, type Schema, validate } from "./schema.js";
import type { StepContext } from "./step-context.js";

/**
 * Runs steps of one `kind`. Throwing fails the attempt (see `permanent` /
 * `retryable`). `Input` and `Output` are compile-time only: the input a step of
 * this executor takes and the result it produces, for `run.step(id, input, {
 * kind: executor })` to check and carry.
 */
export interface Executor<Input = unknown, Output = unknown> {
  /** The step kind it runs: steps whose `kind` option names it are run by it (one executor per kind). */
  kind: string;
  /**
   * Other kinds this executor runs too: the kinds steps of older package
   * versions were laid out with, after a rename (`step.step.kind` says which
   * one a step has). Registered with it; each one taken like a kind. See
   * docs/deploying.md.
   */
  readonly aliases?: readonly string[];
  /**
   * Runs one attempt of a step. A value it resolves with (other than
   * `undefined`) is the step's result, the same as `step.result(value)` called last.
   */
  execute(step: StepContext): Promise<unknown>;
  /** The schema its input must match, when it has one (typed executors): tools check static inputs against it. */
  readonly inputSchema?: Schema;
  /** Never set: it carries the input and output types. */
  readonly __types?: {
    /** The step input type. */
    readonly input: Input;
    /** The result data type. */
    readonly output: Output;
  };
}

/**
 * The result type of an executor function: what it resolves with, or `unknown`
 * when it resolves with nothing (it sets its result with `step.result`).
 */
export type ResultOf<R> = [R] extends [void | undefined] ? unknown : Exclude<R, void | undefined>;

/** The step input an executor takes. */
export type ExecutorInput<E> = E extends Executor<infer I, unknown> ? I : unknown;
/** The result data an executor produces. */
export type ExecutorOutput<E> = E extends Executor<unknown, infer O> ? O : unknown;

/** What an executor may say besides its kind and function. */
export interface ExecutorOptions {
  /** Other kinds it runs too (see `Executor.aliases`). */
  aliases?: readonly string[];
}

/** An executor from a function; what `fn` returns (if not `undefined`) is the step's result. */
export function newExecutor<R>(kind: string, fn: (step: StepContext) => Promise<R>, opts: ExecutorOptions = {}): Executor<unknown, ResultOf<R>> {
  return opts.aliases ? { kind, aliases: [...opts.aliases], execute: fn } : { kind, execute: fn };
}

/**
 * An executor whose input is validated with a schema before `fn` runs: any
 * Standard Schema (zod 3.25+ and 4, valibot, arktype, ...). Input that does not
 * match fails the step permanently with code `invalid_input` and the issues as
 * `details`. What `fn` returns (if not `undefined`) is the step's result.
 *
 * @example
 * newTypedExecutor("mail/send", z.object({ to: z.string().email() }), async (step, input) => {
 *   return { messageId: await mailer.send(input.to) };
 * });
 */
export function newTypedExecutor<S extends Schema, R>(
  kind: string,
  schema: S,
  fn: (step: StepContext, input: InferOutput<S>) => Promise<R>,
  opts: ExecutorOptions = {},
): Executor<InferInput<S>, ResultOf<R>> {
  if (!isSchema(schema)) throw new WorkflowError(ErrorCodes.invalidInput, `newTypedExecutor("${String(kind)}"): the schema must be a Standard Schema (zod, valibot, arktype, ...)`);
  return {
    kind,
    ...(opts.aliases ? { aliases: [...opts.aliases] } : {}),
    inputSchema: schema,
    async execute(step) {
      const input = await validate(schema, step.rawInput(), `input of step "${step.step.id}" (${kind})`);
      return fn(step, input);
    },
  };
}

/** Executors by kind (and by each of their aliases). */
export class Registry {
  readonly #executors = new Map<string, Executor>();

  /**
   * Throws `duplicate_executor` if the kind or one of its aliases is taken,
   * `invalid_input` for a malformed executor; registers nothing then.
   */
  register(executor: Executor): void {
    if (!executor || typeof executor.kind !== "string" || executor.kind.trim() === "" || typeof executor.execute !== "function") {
      throw new WorkflowError(ErrorCodes.invalidInput, "an executor needs a non-empty kind and an execute function");
    }
    const kinds = executorKinds(executor);
    const taken = kinds.find((kind) => this.#executors.has(kind));
    if (taken !== undefined) {
      throw new WorkflowError(ErrorCodes.duplicateExecutor, `an executor for kind "${taken}" is already registered`);
    }
    for (const kind of kinds) this.#executors.set(kind, executor);
  }

  /** The executor registered for `kind`, or undefined. */
  get(kind: string): Executor | undefined {
    return this.#executors.get(kind);
  }

  /** Every kind registered, aliases included, sorted. */
  kinds(): string[] {
    return [...this.#executors.keys()].sort();
  }

  /** How many kinds are registered (grows with each registration: kinds are never removed). */
  get size(): number {
    return this.#executors.size;
  }
}

/** An executor's kind and aliases, checked: non-empty text, each once. */
export function executorKinds(executor: Executor): string[] {
  const aliases: unknown = executor.aliases ?? [];
  if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== "string" || a.trim() === "")) {
    throw new WorkflowError(ErrorCodes.invalidInput, `executor "${executor.kind}": aliases must be non-empty kinds`);
  }
  const kinds = [executor.kind, ...(aliases as string[])];
  const repeated = kinds.find((k, i) => kinds.indexOf(k) !== i);
  if (repeated !== undefined) throw new WorkflowError(ErrorCodes.invalidInput, `executor "${executor.kind}" names kind "${repeated}" twice`);
  return kinds;
}

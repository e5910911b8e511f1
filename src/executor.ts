/**
 * Executors: the code that runs a step of a given kind.
 */
import type { z } from "zod";
import { ErrorCodes, WorkflowError } from "./errors.js";
import type { StepContext } from "./step-context.js";

/** Runs steps of one `kind`. Throwing fails the attempt (see `permanent` / `retryable`). */
export interface Executor {
  kind: string;
  execute(step: StepContext): Promise<void>;
  /** The schema its input must match, when it has one (typed executors): tools check static inputs against it. */
  readonly inputSchema?: z.ZodType<unknown>;
}

/** An executor from a function. */
export function newExecutor(kind: string, fn: (step: StepContext) => Promise<void>): Executor {
  return { kind, execute: fn };
}

/**
 * An executor whose input is validated with a zod schema before `fn` runs. Input
 * that does not match fails the step permanently with code `invalid_input` and
 * the zod issues as `details`.
 *
 * @example
 * newTypedExecutor("mail/send", z.object({ to: z.string().email() }), async (step, input) => {
 *   await mailer.send(input.to);
 * });
 */
export function newTypedExecutor<I>(
  kind: string,
  schema: z.ZodType<I>,
  fn: (step: StepContext, input: I) => Promise<void>,
): Executor {
  return {
    kind,
    inputSchema: schema as z.ZodType<unknown>,
    async execute(step) {
      const parsed = schema.safeParse(step.rawInput());
      if (!parsed.success) {
        throw new WorkflowError(ErrorCodes.invalidInput, `input of step "${step.step.id}" (${kind}) is invalid: ${parsed.error.message}`, {
          details: parsed.error.issues,
        });
      }
      await fn(step, parsed.data);
    },
  };
}

/** Executors by kind. */
export class Registry {
  readonly #executors = new Map<string, Executor>();

  /** Throws `duplicate_executor` if the kind is taken, `invalid_input` for a malformed executor. */
  register(executor: Executor): void {
    if (!executor || typeof executor.kind !== "string" || executor.kind.trim() === "" || typeof executor.execute !== "function") {
      throw new WorkflowError(ErrorCodes.invalidInput, "an executor needs a non-empty kind and an execute function");
    }
    if (this.#executors.has(executor.kind)) {
      throw new WorkflowError(ErrorCodes.duplicateExecutor, `an executor for kind "${executor.kind}" is already registered`);
    }
    this.#executors.set(executor.kind, executor);
  }

  get(kind: string): Executor | undefined {
    return this.#executors.get(kind);
  }

  kinds(): string[] {
    return [...this.#executors.keys()].sort();
  }
}

/**
 * Every error trellis throws, and every failure it records for a step, carries a
 * stable `code`. Callers branch on the code, never on the message text.
 *
 * The codes below are the ones the library itself produces. Executors may fail
 * steps with any code of their own through {@link permanent} and {@link retryable}.
 */
export const ErrorCodes = {
  /** `newRuntime` was given a config that does not validate; the message names the field. */
  invalidConfig: "invalid_config",
  /** Input did not match a schema (run input at `startRun`, step input in a typed executor). */
  invalidInput: "invalid_input",
  /** `registerExecutor` with a kind that is already registered. */
  duplicateExecutor: "duplicate_executor",
  /** `registerPackage` with a name that is already registered. */
  duplicatePackage: "duplicate_package",
  /** `startRun` for a package that is not registered. */
  unknownPackage: "unknown_package",
  /** An entrypoint added no step. */
  emptyRun: "empty_run",
  /** An entrypoint threw a plain error (the original is the `cause`). */
  entrypointFailed: "entrypoint_failed",
  /** A step id used twice in one run. */
  duplicateStep: "duplicate_step",
  /** `dependsOn` names a step that is not in the run. */
  unknownDependency: "unknown_dependency",
  /** The dependencies of a run's steps form a cycle. */
  dependencyCycle: "dependency_cycle",
  /** Two artifacts of one run with the same id. */
  duplicateArtifact: "duplicate_artifact",
  /** A step's kind has no registered executor when a worker picks it up. */
  unknownKind: "unknown_kind",
  /** A step's result (or records) could not be serialized. */
  unserializableResult: "unserializable_result",
  /** A step's lease expired more than `maxReclaims` times. */
  leaseExpired: "lease_expired",
  /** A plain `Error` thrown by an executor (retryable). */
  error: "error",
  /** An operator action on a run or step in a state that does not allow it. */
  invalidState: "invalid_state",
  /** An unknown run, step, dependency result or artifact. */
  notFound: "not_found",
  /** A projection was requested but the runtime has no projection store. */
  noProjectionStore: "no_projection_store",
  /** An artifact was stored but the runtime has no artifact store. */
  noArtifactStore: "no_artifact_store",
  /** A projection or artifact name that could escape its root directory, or is empty. */
  invalidName: "invalid_name",
  /** A projection's SQL failed (the driver's error is the `cause`). */
  projectionError: "projection_error",
  /** A method was called on a runtime after `close()`. */
  closed: "runtime_closed",
  /** The store failed or returned something it should not have. */
  storeError: "store_error",
  /** The database was migrated by a newer trellis than this one; upgrade trellis to open it. */
  schemaTooNew: "schema_too_new",
  /** A step attempt ran past its `timeout`, a `waitForSignal` past its `timeout`, or `rt.waitForRun` past its `timeout`. */
  timeout: "timeout",
  /** `rt.waitForRun` was aborted by its `signal` (the run goes on). */
  aborted: "aborted",
  /** `trellis/testing`'s `runUntilIdle` ran `maxSteps` steps and work was still due (a workflow that keeps making steps ready); the message names the busy runs. */
  notIdle: "not_idle",
  /** A child run (`run.childRun`) failed or was canceled; `details` has its id and status. */
  childFailed: "child_failed",
  /** An input, result, record or signal payload (or an inline artifact) over `RuntimeConfig.limits.maxPayloadBytes`. */
  payloadTooLarge: "payload_too_large",
  /** A command-line argument or option of the `trellis` bin that does not parse (exit code 2). */
  invalidArgument: "invalid_argument",
  /** A declarative workflow definition with author errors; `details` lists each as `{ file, line, column, message }`. */
  invalidWorkflow: "invalid_workflow",
  /** The admin page refused an action: read-only, not authorized, a missing or wrong CSRF token, or a foreign Origin (HTTP 403). */
  forbidden: "forbidden",
  /** A declarative template failed while a run evaluated it (unknown filter, wrong type, prototype access, bad JSON); the task fails. */
  expressionError: "expression_error",
  /** A declarative template ran past its step budget or produced more text than its output budget allows. */
  expressionBudget: "expression_budget",
  /** A declarative definition has more tasks than the limit allows. */
  tooManyTasks: "too_many_tasks",
  /** A declarative `with_items` list is longer than the limit allows; the task fails. */
  tooManyItems: "too_many_items",
  /** A declarative subworkflow would nest deeper than the child-run depth limit; the task fails. */
  childDepthExceeded: "child_depth_exceeded",
  /** A template in a declarative definition is longer than the template size limit. */
  templateTooLarge: "template_too_large",
  /** A declarative task was reached once more than its `max_iterations` allows; the task fails. */
  loopLimit: "loop_limit",
  /** A declarative task failed and no `on_failure` / `on_complete` / `on_timeout` transition handled it; the run fails. */
  taskFailed: "task_failed",
} as const;

/** A code the library itself produces: one of the values of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** What a `WorkflowError` carries besides its code and message. */
export interface WorkflowErrorOptions {
  /** Whether a step failing with this error may be tried again (default false). */
  retryable?: boolean;
  /** Structured details kept with the step's error (must be serializable). */
  details?: unknown;
  /** The underlying error. */
  cause?: unknown;
}

/** Marks a WorkflowError, shared by every copy of the library (`Symbol.for`). */
const BRAND = Symbol.for("trellis.WorkflowError");

/**
 * The one error class of trellis. Thrown by the library with one of
 * {@link ErrorCodes}; thrown by executors (usually through {@link permanent} or
 * {@link retryable}) to fail a step with a code of their own.
 */
export class WorkflowError extends Error {
  /** Stable machine-readable code: one of {@link ErrorCodes}, or an executor's own. */
  readonly code: string;
  /** Whether a step failing with this error may be tried again (its retry policy permitting). */
  readonly retryable: boolean;
  /** Structured details, kept with the step's error when a step fails with it; undefined when none. */
  readonly details?: unknown;

  /**
   * `instanceof WorkflowError` holds for an error from any copy of trellis (the
   * ESM and the CommonJS builds are two copies in one process): every instance
   * carries a registered symbol, which this checks instead of the prototype chain.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // A subclass of WorkflowError keeps the ordinary check.
    if (this !== WorkflowError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  constructor(code: string, message: string, options: WorkflowErrorOptions = {}) {
    super(message || code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WorkflowError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    if (options.details !== undefined) this.details = options.details;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * True for a {@link WorkflowError}, also one from another copy of the library;
 * the same as `instanceof WorkflowError`, kept for code written before that held
 * across copies. An error of an older copy (without the shared mark) is
 * recognised by its name and string `code`.
 */
export function isWorkflowError(err: unknown): err is WorkflowError {
  return (
    err instanceof WorkflowError ||
    (err instanceof Error && err.name === "WorkflowError" && typeof (err as { code?: unknown }).code === "string")
  );
}

function wrap(code: string, err: unknown, retry: boolean): WorkflowError {
  const message = err instanceof Error ? err.message : err === undefined || err === null ? code : String(err);
  const details = isWorkflowError(err) ? err.details : undefined;
  return new WorkflowError(code, message, { retryable: retry, cause: err, details });
}

/** A failure that must not be retried: the step fails at once, whatever its retry policy. */
export function permanent(code: string, err?: unknown): WorkflowError {
  return wrap(code, err, false);
}

/** A failure that may be retried if the step's retry policy has attempts left. */
export function retryable(code: string, err?: unknown): WorkflowError {
  return wrap(code, err, true);
}

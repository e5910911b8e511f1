/**
 * The POST side of the admin page: one endpoint (`<basePath>/actions`) whose
 * form names the action. A request is refused with 403 (`forbidden`) unless
 * actions are on, its Origin is the admin's own, its CSRF token matches its
 * cookie, and `authorize` says yes; an action the run's state does not allow
 * answers with the `WorkflowError` message. Success redirects back (303).
 */
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { Runtime } from "../engine/runtime.js";
import type { OperatorOptions } from "../types.js";
import { ACTION_LABELS, type AdminActionName } from "./page.js";
import { parseInstant } from "./pages/runs-list.js";

/** What `authorize` is asked about. */
export interface AdminAction {
  /** Which action the form asked for. */
  name: AdminActionName;
  /** The run acted on (absent for Purge and Retry selected). */
  runId?: string;
  /** The step acted on (Retry). */
  stepId?: string;
}

/** What `onAction` hears after an action succeeded. */
export interface AdminActionRecord extends AdminAction {
  /** Who did it, from the `actor` option ("anonymous" without one). */
  actor: string;
  /** The reason the operator gave, if the form had one. */
  reason?: string;
  /** Purge: runs deleted. Retry selected: steps retried. */
  count?: number;
}

/** A body larger than this is refused before it is read (a signal payload is the largest field). */
export const MAX_FORM_BYTES = 1 << 20;

const field = (form: URLSearchParams, name: string): string | undefined => form.get(name) || undefined;

/**
 * Reads an action's form body (`application/x-www-form-urlencoded`, what the
 * page's forms send), refusing one over {@link MAX_FORM_BYTES} before it is all read.
 */
export async function readForm(request: Request): Promise<URLSearchParams> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) throw new WorkflowError(ErrorCodes.invalidArgument, "an action is posted as a form (application/x-www-form-urlencoded)");
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_FORM_BYTES) throw new WorkflowError(ErrorCodes.payloadTooLarge, `the form is over ${MAX_FORM_BYTES} bytes`);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function required(form: URLSearchParams, name: string): string {
  const value = field(form, name);
  if (value === undefined) throw new WorkflowError(ErrorCodes.invalidArgument, `the form has no "${name}"`);
  return value;
}

/** Reads the action and its target from the form; an unknown action is `invalid_argument`. */
export function actionOf(form: URLSearchParams): AdminAction {
  const name = field(form, "action");
  if (name === undefined || !Object.hasOwn(ACTION_LABELS, name)) throw new WorkflowError(ErrorCodes.invalidArgument, `unknown action "${name ?? ""}"`);
  const runId = field(form, "runId");
  const stepId = field(form, "stepId");
  return { name: name as AdminActionName, ...(runId !== undefined ? { runId } : {}), ...(stepId !== undefined ? { stepId } : {}) };
}

/** A signal's payload: JSON text (empty means none). */
export function parsePayload(text: string | undefined): unknown {
  if (text === undefined || text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WorkflowError(ErrorCodes.invalidArgument, `the signal payload is not valid JSON: ${(err as Error).message}`);
  }
}

function stepRefs(form: URLSearchParams): [string, string][] {
  const refs = form.getAll("step").map((value) => {
    try {
      const ref: unknown = JSON.parse(String(value));
      if (Array.isArray(ref) && ref.length === 2 && ref.every((x) => typeof x === "string")) return ref as [string, string];
    } catch {
      // reported below
    }
    throw new WorkflowError(ErrorCodes.invalidArgument, "a selected step is not a [runId, stepId] pair");
  });
  if (refs.length === 0) throw new WorkflowError(ErrorCodes.invalidArgument, "no step selected");
  return refs;
}

/** The longest actor name and reason the runtime keeps (`OperatorOptions`). */
const MAX_ACTOR = 200;
const MAX_REASON = 1_000;

/**
 * Who acted and why, as the event log takes them: the `actor` option's answer
 * (cut to what the log keeps, NUL characters dropped; "anonymous" without
 * one) and the form's reason, if any.
 */
export function operatorNote(actor: string | undefined, form: URLSearchParams): { actor: string; reason?: string } {
  const clean = (text: string | null | undefined, max: number) => (text ?? "").replaceAll("\u0000", "").trim().slice(0, max);
  const reason = clean(form.get("reason"), MAX_REASON);
  return { actor: clean(actor, MAX_ACTOR) || "anonymous", ...(reason ? { reason } : {}) };
}

/** Performs the action; returns what it counted (Purge, Retry run, Retry selected). Throws the runtime's WorkflowError. */
export async function perform(rt: Runtime, action: AdminAction, form: URLSearchParams, note: OperatorOptions): Promise<number | undefined> {
  const runId = () => action.runId ?? required(form, "runId");
  switch (action.name) {
    case "retry":
      await rt.retryStep(runId(), action.stepId ?? required(form, "stepId"), note);
      return undefined;
    case "retry-run":
      return (await rt.retryRun(runId(), note)).length;
    case "retry-selected": {
      const refs = stepRefs(form);
      const refused: string[] = [];
      for (const [run, step] of refs) {
        await rt.retryStep(run, step, note).catch((err: unknown) => {
          if (!(err instanceof WorkflowError)) throw err;
          refused.push(`${step} (run ${run}): ${err.message}`);
        });
      }
      if (refused.length) {
        throw new WorkflowError(ErrorCodes.invalidState, `${refs.length - refused.length} of ${refs.length} steps retried; refused: ${refused.join("; ")}`);
      }
      return refs.length;
    }
    case "cancel-run":
      await rt.cancelRun(runId(), note);
      return undefined;
    case "pause":
      await rt.pauseRun(runId(), note);
      return undefined;
    case "resume":
      await rt.resumeRun(runId(), note);
      return undefined;
    case "signal":
      await rt.signal(runId(), required(form, "name"), parsePayload(field(form, "payload")), note);
      return undefined;
    case "purge":
      return rt.purge({ finishedBefore: parseInstant(required(form, "before"), "finished before"), ...note });
  }
}

/** Where to go after the action: the page it was posted from, if it is one of the admin's own. */
export function backTo(form: URLSearchParams, base: string): string {
  const back = field(form, "back");
  // Only a path under the base path: never another host ("//evil", "/\\evil") or scheme.
  if (back && back.startsWith(`${base}/`) && !back.startsWith("//") && !/[\\\r\n]/.test(back)) return back;
  return `${base}/`;
}

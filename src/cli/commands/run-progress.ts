/**
 * What `trellis run` prints while the run goes on: a line per task transition,
 * and on a terminal a status line under them (tasks by state) that is rewritten
 * in place as they change.
 */
import type { RunEvent } from "../../types.js";

const STATE: Partial<Record<RunEvent["type"], string>> = {
  step_claimed: "running",
  step_waiting: "waiting",
  step_retry_scheduled: "retrying",
  step_succeeded: "succeeded",
  step_failed: "failed",
  step_skipped: "skipped",
  step_canceled: "canceled",
};

/** A run's own routing steps (`~definition`, `x.route`, `x.join.y`, `~done.*`, `~output`) are not tasks. */
export function isTaskStep(stepId: string | undefined): stepId is string {
  return stepId !== undefined && !/^~|\.route$|\.join\./.test(stepId);
}

/** The line printed for an event of a task step, or undefined. */
export function transitionLine(event: RunEvent, started: number): string | undefined {
  if (!isTaskStep(event.stepId)) return undefined;
  const what: Partial<Record<RunEvent["type"], string>> = {
    step_claimed: "started",
    step_waiting: "waiting",
    step_succeeded: "succeeded",
    step_failed: `failed${event.error ? ` (${event.error.code}: ${event.error.message})` : ""}`,
    step_retry_scheduled: `will retry${event.error ? ` (${event.error.code})` : ""}`,
    step_skipped: "skipped",
    step_canceled: "canceled",
  };
  const text = what[event.type];
  if (!text) return undefined;
  return `${String(event.at.getTime() - started).padStart(6)} ms  ${event.stepId}  ${text}`;
}

/** Prints a run's task transitions, with a status line on a terminal. */
export class RunProgress {
  readonly #out: NodeJS.WritableStream;
  readonly #tty: boolean;
  readonly #started: number;
  readonly #state = new Map<string, string>();

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean }, started: number) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#started = started;
  }

  /** Prints a line (above the status line on a terminal). */
  line(text: string): void {
    this.#out.write(this.#tty ? `\r\x1b[K${text}\n${this.#status()}` : `${text}\n`);
  }

  event(e: RunEvent): void {
    const state = STATE[e.type];
    if (state && isTaskStep(e.stepId)) this.#state.set(e.stepId, state);
    const line = transitionLine(e, this.#started);
    if (line) this.line(line);
  }

  /** Clears the status line. */
  done(): void {
    if (this.#tty) this.#out.write("\r\x1b[K");
  }

  #status(): string {
    const counts = new Map<string, number>();
    for (const s of this.#state.values()) counts.set(s, (counts.get(s) ?? 0) + 1);
    const parts = ["running", "waiting", "retrying", "succeeded", "failed", "skipped", "canceled"].filter((s) => counts.has(s)).map((s) => `${s} ${counts.get(s)}`);
    return parts.length ? `  tasks: ${parts.join(" · ")}` : "";
  }
}

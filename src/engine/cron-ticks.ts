/**
 * A schedule's ticks: its cron expression in its IANA time zone, read by
 * croner (five fields, or six with seconds first; DST as croner documents:
 * a fixed-time job in a spring-forward gap fires at the first valid time
 * after it, once in an autumn repeat; an interval job skips the gap and fires
 * in both passes of the repeat). Ticks are epoch milliseconds.
 *
 * croner is imported the first time a schedule is declared or fired: an
 * application without schedules never loads it.
 */
import type { Cron } from "croner";
import { ErrorCodes, WorkflowError } from "../errors.js";

let croner: Promise<typeof import("croner")> | undefined;

export class CronTicks {
  readonly #cron: Cron;

  /** @throws WorkflowError `invalid_input` naming the field (`cron` or `timezone`) for `what`. */
  static async of(expression: string, timezone: string, what: string): Promise<CronTicks> {
    const { Cron } = await (croner ??= import("croner"));
    return new CronTicks(Cron, expression, timezone, what);
  }

  private constructor(Cron: typeof import("croner").Cron, expression: string, timezone: string, what: string) {
    if (!isTimeZone(timezone)) {
      throw new WorkflowError(ErrorCodes.invalidInput, `${what}: timezone: unknown IANA time zone ${JSON.stringify(timezone)}`, { details: { field: "timezone" } });
    }
    try {
      // paused: croner only computes; nothing here runs on a timer.
      this.#cron = new Cron(expression, { timezone, paused: true });
    } catch (err) {
      throw new WorkflowError(ErrorCodes.invalidInput, `${what}: cron: ${(err as Error)?.message ?? String(err)}`, { cause: err, details: { field: "cron" } });
    }
  }

  /** The first tick strictly after `at`, or undefined when the expression has none left. */
  after(at: number): number | undefined {
    return this.#cron.nextRun(new Date(at))?.getTime();
  }

  /** Up to `n` ticks at or before `at`, oldest first. */
  atOrBefore(at: number, n: number): number[] {
    return this.#cron
      .previousRuns(n, new Date(at + 1))
      .map((d) => d.getTime())
      .reverse();
  }
}

/** Whether the runtime's `Intl` knows the zone (the same database croner converts with). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * A clock that moves only when the test says so. The runtime reads it through
 * its `clock` option: durable times (timers, retry backoffs, leases, signal
 * timeouts, schedules) are stored as epoch ms and compared with `now()`, so
 * they come due when the clock is advanced past them and the next cycle runs;
 * the in-memory timers the engine sets on it (an attempt's `timeout`) fire
 * during `advance` itself, in the order of their due times.
 */
import type { Clock } from "../config.js";
import { ErrorCodes, WorkflowError } from "../errors.js";

interface Timer {
  at: number;
  /** Ties at one instant fire in the order they were set. */
  seq: number;
  fn: () => unknown;
}

/** 2026-01-01T00:00:00Z: a fixed start, so that a test's times are the same on every run. */
export const DEFAULT_START = Date.UTC(2026, 0, 1);

export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Set<Timer>();

  constructor(start: Date | number = DEFAULT_START) {
    this.#now = toEpoch(start, "FakeClock start");
  }

  /** Epoch ms. */
  now(): number {
    return this.#now;
  }

  /** The current time as a Date. */
  date(): Date {
    return new Date(this.#now);
  }

  /** Timers set and not yet fired or canceled (attempt timeouts of steps still executing). */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const timer: Timer = { at: this.#now + Math.max(0, Number(ms) || 0), seq: this.#seq++, fn };
    this.#timers.add(timer);
    return () => void this.#timers.delete(timer);
  }

  /**
   * Moves time forward by `ms`, firing the timers that come due on the way, each
   * with the clock set to its own due time. A timer set by one that fires is
   * fired too if it falls in the window. Durable work that came due runs at the
   * runtime's next cycle (`runUntilIdle`).
   */
  async advance(ms: number): Promise<void> {
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
      throw new WorkflowError(ErrorCodes.invalidInput, `advance: ms must be a finite number >= 0 (got ${String(ms)})`);
    }
    await this.#moveTo(this.#now + ms);
  }

  /** Moves time forward to `to` (a Date or epoch ms); `invalid_input` if it is in the clock's past. */
  async advanceTo(to: Date | number): Promise<void> {
    const target = toEpoch(to, "advanceTo");
    if (target < this.#now) {
      throw new WorkflowError(ErrorCodes.invalidInput, `advanceTo: ${new Date(target).toISOString()} is before the clock's now, ${new Date(this.#now).toISOString()}: a clock only moves forward`);
    }
    await this.#moveTo(target);
  }

  async #moveTo(target: number): Promise<void> {
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.#timers) if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (!next) break;
      this.#timers.delete(next);
      this.#now = Math.max(this.#now, next.at);
      await next.fn();
    }
    this.#now = target;
    // Let what the fired timers started (an executor seeing its signal abort) take its next step.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function toEpoch(value: Date | number, what: string): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== "number" || !Number.isFinite(ms)) throw new WorkflowError(ErrorCodes.invalidInput, `${what}: not a valid Date or epoch ms (got ${String(value)})`);
  return ms;
}

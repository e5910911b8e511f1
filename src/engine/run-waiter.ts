/**
 * `rt.waitForRun`: resolves once a run has finished, wherever it runs, with no
 * loop in the caller. A waiter looks at the run again whenever something may
 * have moved it: an outcome this process's workers wrote, a cancel made here,
 * or a wake-up from the store (another process's commits: the WAL watch on
 * SQLite, LISTEN/NOTIFY on Postgres, whose commits that finish a run without
 * making work ready say so with a `changed` event naming the run). A `changed`
 * event that names other runs is not a reason to look. Since a store's
 * wake-ups are hints (a store may have none; a lost connection loses some), it
 * also looks again after a backoff that grows to the poll interval.
 */
import { ErrorCodes, WorkflowError } from "../errors.js";
import { FINISHED_RUN_STATUSES } from "../store/graph-rules.js";
import type { RunRecord, Store, StoreEvent } from "../store/store.js";

/** Options of `rt.waitForRun`. */
export interface WaitForRunOptions {
  /** Aborting it rejects the wait with `aborted` (the run goes on). */
  signal?: AbortSignal;
  /** Milliseconds to wait at most; then the wait rejects with `timeout` (the run goes on). */
  timeout?: number;
}

const FIRST_BACKOFF_MS = 5;

export class RunWaiter {
  readonly #store: Store;
  readonly #maxBackoff: number;
  readonly #isClosed: () => boolean;
  /** Resolvers of the waits under way, with the run each waits for: `progress()` calls them. */
  readonly #pending = new Map<() => void, string>();
  #unsubscribe: (() => void) | undefined;
  #waiters = 0;

  constructor(store: Store, maxBackoff: number, isClosed: () => boolean) {
    this.#store = store;
    this.#maxBackoff = maxBackoff;
    this.#isClosed = isClosed;
  }

  /** Something may have moved a run: every waiter looks again (only those of `runIds`, when given). */
  progress(runIds?: readonly string[]): void {
    if (this.#pending.size === 0) return; // the usual case, once per written outcome: no allocation
    for (const [resolve, runId] of [...this.#pending]) if (!runIds || runIds.includes(runId)) resolve();
  }

  /** A store's wake-up: a `changed` event names the runs it concerns; any other may concern any run. */
  #onStoreEvent(event: StoreEvent | undefined): void {
    this.progress(event?.type === "changed" ? event.runIds : undefined);
  }

  async wait(runId: string, { signal, timeout }: WaitForRunOptions): Promise<RunRecord> {
    const deadline = timeout === undefined ? Infinity : Date.now() + timeout;
    this.#listen();
    try {
      for (let backoff = FIRST_BACKOFF_MS; ; backoff = Math.min(backoff * 2, this.#maxBackoff)) {
        if (this.#isClosed()) throw new WorkflowError(ErrorCodes.closed, "the runtime was closed while waiting for a run");
        if (signal?.aborted) throw new WorkflowError(ErrorCodes.aborted, `the wait for run "${runId}" was aborted`, { cause: signal.reason });
        const run = await this.#store.getRun(runId);
        if (!run) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
        if ((FINISHED_RUN_STATUSES as readonly string[]).includes(run.status)) return run;
        const left = deadline - Date.now();
        if (left <= 0) throw new WorkflowError(ErrorCodes.timeout, `run "${runId}" did not finish within ${timeout} ms (it is ${run.status})`);
        await this.#nextLook(runId, Math.min(backoff, left), signal);
      }
    } finally {
      this.#unlisten();
    }
  }

  /** Resolves on progress, after `ms`, or on abort, whichever comes first. */
  #nextLook(runId: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      this.#pending.set(done, runId);
    });
  }

  /** The store's wake-ups, while someone waits. */
  #listen(): void {
    this.#waiters++;
    if (this.#waiters === 1) this.#unsubscribe = this.#store.subscribe?.((event) => this.#onStoreEvent(event));
  }

  #unlisten(): void {
    this.#waiters--;
    if (this.#waiters === 0) {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
    }
  }

}

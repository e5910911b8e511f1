/**
 * Keeps the leases of a worker's steps alive: every third of a lease, one
 * store call extends all of them, and the steps whose lease is gone (expired
 * and reclaimed, or their run canceled) have their signal aborted. It runs
 * only while there are leases to keep.
 */
import type { ResolvedConfig } from "../config.js";
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { LeaseRef, Store } from "../store/store.js";

/** A lease the heartbeat keeps, and what to do when it turns out to be lost. */
export interface HeldLease {
  lease: LeaseRef;
  lost(reason: WorkflowError): void;
}

export class Heartbeat {
  readonly #store: Store;
  readonly #config: ResolvedConfig;
  /** The leases held now. */
  readonly #held: () => Iterable<HeldLease>;
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Store, config: ResolvedConfig, held: () => Iterable<HeldLease>) {
    this.#store = store;
    this.#config = config;
    this.#held = held;
  }

  /** Starts beating if it is not already (call when a lease is taken). */
  ensure(): void {
    if (this.#timer) return;
    const every = Math.max(10, Math.floor(this.#config.leaseDuration / 3));
    this.#timer = setInterval(() => void this.#beat().catch((err: unknown) => this.#config.onError(err, "heartbeat failed")), every);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #beat(): Promise<void> {
    const held = [...this.#held()];
    if (held.length === 0) return this.stop();
    const now = this.#config.clock();
    try {
      const lost = new Set((await this.#store.heartbeat(held.map((h) => h.lease), now + this.#config.leaseDuration, now)).map((l) => l.token));
      for (const h of held) {
        if (!lost.has(h.lease.token)) continue;
        this.#config.log.warn({ runId: h.lease.runId, stepId: h.lease.stepId }, "lease lost: the step's run was canceled or its lease expired");
        h.lost(new WorkflowError(ErrorCodes.invalidState, `step "${h.lease.stepId}" is no longer leased to this worker (its run was canceled or its lease expired)`));
      }
    } catch (err) {
      // The leases stay held until they expire; the next beat tries again.
      this.#config.onError(err, "heartbeat failed: the store could not extend the leases", { steps: held.length });
    }
  }
}

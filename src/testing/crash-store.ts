/**
 * How the test kit kills a worker in the middle of an attempt without killing
 * the test's process: the runtime's store goes through this wrapper, which is
 * transparent until a crash is armed. An armed crash picks the next claim of a
 * matching step and makes that attempt's worker "die":
 *
 * - `before: "commit"` (default): the executor runs (its side effects happen),
 *   but its outcome never reaches the store and its lease is not extended, as
 *   when a process dies between the work and the commit;
 * - `before: "execute"`: the step is leased and then abandoned before its
 *   executor is called, as when a process dies right after claiming.
 *
 * Either way the step stays `running` under a lease nobody renews; once the
 * clock passes the lease, the next cycle reclaims it and it runs again. The
 * real store does all the rest: nothing here imitates it.
 */
import type { ClaimRequest, ClaimResult, CompletionResult, LeaseRef, StepOutcome, Store, StoreConfig } from "../store/store.js";
import { bindStore } from "../store/store-commands.js";

/** Which step's next attempt dies: a step id, or any of step id, run id and kind to match. */
export type CrashTarget =
  | string
  | {
      /** Only the step of this id (in any run, unless `runId` is given). */
      stepId?: string;
      /** Only a step of this run. */
      runId?: string;
      /** Only a step of this executor kind. */
      kind?: string;
    };

/** What `crashNextAttempt` takes. */
export interface CrashOptions {
  /** When the worker dies: after executing, before its commit (default), or before executing. */
  before?: "commit" | "execute";
}

/** An armed crash; `crashed` turns true once a claim of a matching step met it. */
export interface Crash {
  /** The step it was armed for, as given. */
  readonly target: CrashTarget;
  /** When the worker dies: before its commit (`"commit"`, the default) or before executing. */
  readonly before: "commit" | "execute";
  /** Whether a claim of a matching step met it; until then `lease` is undefined. */
  readonly crashed: boolean;
  /** The attempt that died: its run, step and the lease token it held. */
  readonly lease: LeaseRef | undefined;
}

class ArmedCrash implements Crash {
  crashed = false;
  lease: LeaseRef | undefined;
  constructor(
    readonly target: CrashTarget,
    readonly before: "commit" | "execute",
  ) {}

  matches(runId: string, stepId: string, kind: string): boolean {
    const t = typeof this.target === "string" ? { stepId: this.target } : this.target;
    return (t.stepId === undefined || t.stepId === stepId) && (t.runId === undefined || t.runId === runId) && (t.kind === undefined || t.kind === kind);
  }
}

export class CrashingStores {
  readonly #armed: ArmedCrash[] = [];
  /** Lease tokens of attempts whose worker "died": their commits and heartbeats go nowhere. */
  readonly #dead = new Set<string>();

  arm(target: CrashTarget, options: CrashOptions = {}): Crash {
    const crash = new ArmedCrash(target, options.before ?? "commit");
    this.#armed.push(crash);
    return crash;
  }

  /** Crashes armed that no claim has met yet. */
  get armed(): number {
    return this.#armed.length;
  }

  wrap(config: StoreConfig): StoreConfig {
    return { name: config.name, open: async () => this.#wrapStore(await config.open()) };
  }

  #wrapStore(store: Store): Store {
    const wrapped = bindStore(store) as unknown as Store;
    wrapped.claim = async (request: ClaimRequest): Promise<ClaimResult> => {
      const result = await store.claim(request);
      const steps = result.steps.filter((claimed) => {
        const i = this.#armed.findIndex((c) => c.matches(claimed.run.id, claimed.step.id, claimed.step.kind));
        if (i < 0) return true;
        const [crash] = this.#armed.splice(i, 1) as [ArmedCrash];
        crash.crashed = true;
        crash.lease = { runId: claimed.run.id, stepId: claimed.step.id, token: claimed.step.lease.token };
        this.#dead.add(crash.lease.token);
        // Dying before the executor runs: the worker never hears of the step it leased.
        return crash.before === "commit";
      });
      return { ...result, steps };
    };
    wrapped.complete = async (outcomes: StepOutcome[]): Promise<CompletionResult[]> => {
      const live = outcomes.filter((o) => !this.#dead.has(o.token));
      const written = live.length > 0 ? await store.complete(live) : [];
      // The dead worker never learns what became of its commit; the engine sees a lost lease.
      let next = 0;
      return outcomes.map((o) => (this.#dead.has(o.token) ? { status: "stale" } : (written[next++] as CompletionResult)));
    };
    wrapped.heartbeat = async (leases: LeaseRef[], expiresAt: number, now: number): Promise<LeaseRef[]> => {
      const live = leases.filter((l) => !this.#dead.has(l.token));
      return live.length > 0 ? store.heartbeat(live, expiresAt, now) : [];
    };
    wrapped.release = async (leases: LeaseRef[], now: number): Promise<void> => {
      const live = leases.filter((l) => !this.#dead.has(l.token));
      if (live.length > 0) await store.release(live, now);
    };
    return wrapped;
  }
}

/**
 * A fault-injection seam for stores: wraps a `StoreConfig` so that chosen
 * commands throw or hang, before their transaction (nothing was written) or
 * after it (it committed, but the caller never hears so). That is how a
 * database connection fails in production: a query that never reached the
 * server, or a commit whose answer was lost. The hostile-condition tests use it
 * on both built-in stores; adapter authors can run the same checks on theirs.
 *
 * @example
 * const faults = new FaultInjector();
 * const rt = await newRuntime({ store: faults.wrap(sqliteStore(file)) });
 * faults.inject({ method: "complete", when: "after" });   // the next completion commits, then "fails"
 */
import type { Store, StoreConfig } from "../store/store.js";
import { bindStore, STORE_COMMANDS, type StoreCommand } from "../store/store-commands.js";

/** Every command of a store but `close`: the writes, the claim (which leases) and the reads. */
export type FaultableMethod = Exclude<StoreCommand, "close">;

/** Which calls to fail, when, and how. */
export interface FaultRule {
  /** The store command it hits. */
  method: FaultableMethod;
  /** `before`: the call never reaches the store. `after`: it ran (and committed), then fails or hangs. */
  when: "before" | "after";
  /** `throw` (default) rejects with an error like a driver's; `hang` never settles until `releaseHangs()`. */
  action?: "throw" | "hang";
  /** How many calls it hits (default 1); `Infinity` until removed with `clear()`. */
  times?: number;
  /** Hits only calls whose arguments match. */
  match?: (args: unknown[]) => boolean;
}

/** One fault that fired. */
export interface InjectedFault {
  /** The store command it hit. */
  method: FaultableMethod;
  /** Whether the call had reached the store (`after`) or not (`before`). */
  when: "before" | "after";
  /** Whether the call rejected (`throw`) or hung (`hang`). */
  action: "throw" | "hang";
}

const FAULTABLE = STORE_COMMANDS.filter((m): m is FaultableMethod => m !== "close");

/** An error shaped like a driver's connection failure. */
export class InjectedStoreError extends Error {
  /** Always `ECONNRESET`, as a driver's lost connection. */
  readonly code = "ECONNRESET";
  constructor(method: string, when: string) {
    super(`injected fault: ${method} ${when === "before" ? "did not reach the database" : "committed, but its answer was lost"}`);
    this.name = "InjectedStoreError";
  }
}

/** Wraps stores so that the commands its rules name fail or hang; see the module's example. */
export class FaultInjector {
  readonly #rules: (FaultRule & { left: number })[] = [];
  readonly #hung: (() => void)[] = [];
  /** Every fault that fired, in order. */
  readonly injected: InjectedFault[] = [];

  /** Adds a rule; rules are tried in the order added. */
  inject(rule: FaultRule): void {
    this.#rules.push({ ...rule, left: rule.times ?? 1 });
  }

  /** Removes every rule (hung calls stay hung until `releaseHangs`). */
  clear(): void {
    this.#rules.length = 0;
  }

  /** Lets every hung call go on: a `before` hang then runs the call, an `after` hang returns its answer. */
  releaseHangs(): void {
    for (const release of this.#hung.splice(0)) release();
  }

  /** How many hung calls are waiting. */
  get hanging(): number {
    return this.#hung.length;
  }

  /** The store config, with every store it opens going through this injector. */
  wrap(config: StoreConfig): StoreConfig {
    return {
      name: `${config.name}+faults`,
      open: async () => this.wrapStore(await config.open()),
    };
  }

  /** An opened store, wrapped. The wrapper keeps the store's optional members. */
  wrapStore(store: Store): Store {
    const wrapped = bindStore(store);
    for (const method of FAULTABLE) {
      const call = wrapped[method] as (...args: unknown[]) => Promise<unknown>;
      wrapped[method] = async (...args: unknown[]) => {
        await this.#fault(method, "before", args);
        const result = await call(...args);
        await this.#fault(method, "after", args);
        return result;
      };
    }
    return wrapped as unknown as Store;
  }

  async #fault(method: FaultableMethod, when: "before" | "after", args: unknown[]): Promise<void> {
    const rule = this.#rules.find((r) => r.left > 0 && r.method === method && r.when === when && (r.match?.(args) ?? true));
    if (!rule) return;
    rule.left--;
    const action = rule.action ?? "throw";
    this.injected.push({ method, when, action });
    if (action === "hang") {
      await new Promise<void>((resolve) => this.#hung.push(resolve));
      return;
    }
    throw new InjectedStoreError(method, when);
  }
}

/**
 * `rt.on` / `rt.off`: listeners of the events this runtime's commits write to
 * the event log, handed over right after each commit. The store captures
 * events only while someone listens (it costs a transaction per write on
 * Postgres), so the hooks observe the store only while they have listeners.
 */
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { EventRecord, Store } from "../store/store.js";
import type { RunEvent, RunEventType } from "../types.js";
import { toRunEvent } from "./records.js";
import { EVENT_TYPES } from "./runtime-arguments.js";

/** What `rt.on` listens to: one event type, or `"*"` for all of them. */
export type RunEventListener = (event: RunEvent) => void;

export class EventHooks {
  readonly #store: Store;
  readonly #onError: (err: unknown) => void;
  readonly #listeners = new Map<RunEventType | "*", Set<RunEventListener>>();
  #stopObserving: (() => void) | undefined;

  constructor(store: Store, onError: (err: unknown) => void) {
    this.#store = store;
    this.#onError = onError;
  }

  on(type: RunEventType | "*", listener: RunEventListener): void {
    if (type !== "*" && !EVENT_TYPES.includes(type)) throw new WorkflowError(ErrorCodes.invalidInput, `rt.on: unknown event type "${String(type)}"`);
    if (typeof listener !== "function") throw new WorkflowError(ErrorCodes.invalidInput, "rt.on: the listener must be a function");
    if (!this.#store.observeEvents) {
      throw new WorkflowError(ErrorCodes.invalidState, "rt.on: this store cannot report the events it writes (Store.observeEvents is not implemented)");
    }
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
    this.#stopObserving ??= this.#store.observeEvents((events) => this.#dispatch(events));
  }

  off(type: RunEventType | "*", listener: RunEventListener): void {
    this.#listeners.get(type)?.delete(listener);
    if ([...this.#listeners.values()].every((set) => set.size === 0)) this.stop();
  }

  /**
   * Calls `listener` whenever the store may have changed: after a commit of this
   * runtime, and on a wake-up from another process (see `Runtime.watchChanges`).
   * Returns the unsubscribe function.
   */
  watchChanges(listener: () => void): () => void {
    const onEvent = () => listener();
    const fromStore = this.#store.subscribe?.(() => listener());
    if (this.#store.observeEvents) this.on("*", onEvent);
    return () => {
      fromStore?.();
      this.off("*", onEvent);
    };
  }

  /** Stops observing the store (at close). */
  stop(): void {
    this.#stopObserving?.();
    this.#stopObserving = undefined;
  }

  #dispatch(records: EventRecord[]): void {
    for (const record of records) {
      const event = toRunEvent(record);
      for (const set of [this.#listeners.get(event.type), this.#listeners.get("*")]) {
        for (const listener of set ?? []) {
          try {
            // An async listener's rejection is reported too, never left unhandled.
            const returned: unknown = listener(event);
            if (returned instanceof Promise) returned.catch((err: unknown) => this.#onError(err));
          } catch (err) {
            this.#onError(err);
          }
        }
      }
    }
  }
}

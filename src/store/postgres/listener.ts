/**
 * LISTEN on one dedicated connection, turning notifications into `StoreEvent`s
 * for the workers of this process. The connection is opened when the first
 * subscriber arrives and re-established (with backoff) whenever it drops. Each
 * time the LISTEN is in place every subscriber gets a `ready` event: what was
 * notified before it (between a subscribe and the first LISTEN, or while the
 * connection was down) is lost, and there may be work waiting.
 */
import type pg from "pg";
import type { StoreEvent } from "../store.js";
import { quoteIdent } from "./connection.js";

/** The longest list of run ids a `changed` payload names; past it, it names none. */
export const MAX_CHANGED_PAYLOAD = 1_000;

/** Notification payloads: short, because every listening process receives every one. */
export const Payload = {
  ready: "r",
  due: (at: number) => `d:${at}`,
  canceled: (runId: string) => `c:${runId}`,
  /** Runs a commit changed without making work ready: their ids as JSON while short, else none. */
  changed: (runIds: Iterable<string>) => {
    const named = `x:${JSON.stringify([...runIds])}`;
    return named.length <= MAX_CHANGED_PAYLOAD ? named : "x";
  },
} as const;

export function parsePayload(payload: string | undefined): StoreEvent {
  if (payload?.startsWith("d:")) {
    const at = Number(payload.slice(2));
    if (Number.isFinite(at)) return { type: "due", at };
  }
  if (payload?.startsWith("c:")) return { type: "canceled", runId: payload.slice(2) };
  if (payload === "x") return { type: "changed" };
  if (payload?.startsWith("x:")) return { type: "changed", ...runIdsOf(payload.slice(2)) };
  return { type: "ready" };
}

function runIdsOf(json: string): { runIds?: string[] } {
  try {
    const ids: unknown = JSON.parse(json);
    if (Array.isArray(ids) && ids.every((id) => typeof id === "string")) return { runIds: ids };
  } catch {
    // not ours: some runs changed
  }
  return {};
}

/**
 * What a transaction sends with its COMMIT: its wake-ups, and, when none of
 * them says work is ready, one `changed` naming the runs it changed (a `ready`
 * already makes every observer look again). One notification per kind, at
 * most one of them per transaction beyond what the workers need.
 */
export function commitPayloads(notify: ReadonlySet<string>, changed: ReadonlySet<string>): Iterable<string> {
  if (changed.size === 0 || notify.has(Payload.ready)) return notify;
  return [...notify, Payload.changed(changed)];
}

/** Drops a connection for good; whatever it still emits is swallowed (no unhandled 'error' event). */
function destroy(client: pg.PoolClient, err: Error): void {
  client.on("error", () => undefined);
  client.release(err);
}

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 5_000;

export class Listener {
  readonly #connect: (onError: (err: Error) => void) => Promise<pg.PoolClient>;
  readonly #channel: string;
  readonly #onError: (err: unknown) => void;
  readonly #subscribers = new Set<(event: StoreEvent) => void>();
  #client: pg.PoolClient | undefined;
  #detach: (() => void) | undefined; // removes our handlers from #client
  #connecting: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #backoff = MIN_BACKOFF_MS;
  #closed = false;

  /** `connect` must put `onError` on the client before handing it over (see `connectListening`). */
  constructor(connect: (onError: (err: Error) => void) => Promise<pg.PoolClient>, channel: string, onError: (err: unknown) => void) {
    this.#connect = connect;
    this.#channel = channel;
    this.#onError = onError;
  }

  subscribe(onEvent: (event: StoreEvent) => void): () => void {
    this.#subscribers.add(onEvent);
    if (!this.#client && !this.#connecting && !this.#retry) this.#start();
    return () => {
      this.#subscribers.delete(onEvent);
      if (this.#subscribers.size === 0) this.#stop();
    };
  }

  /** Resolves once the LISTEN is in place (tests and benchmarks wait for it). */
  async ready(): Promise<void> {
    await this.#connecting;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribers.clear();
    await this.#connecting?.catch(() => undefined);
    this.#stop();
  }

  #emit(event: StoreEvent): void {
    for (const s of this.#subscribers) s(event);
  }

  #start(): void {
    this.#connecting = this.#open().finally(() => {
      this.#connecting = undefined;
    });
  }

  async #open(): Promise<void> {
    let client: pg.PoolClient | undefined;
    // An error the connection emits before our handlers are on: it is already lost.
    let early: unknown;
    const onEarly = (err: Error) => {
      early ??= err;
    };
    try {
      client = await this.#connect(onEarly);
      const onNotification = (msg: pg.Notification) => {
        if (msg.channel === this.#channel) this.#emit(parsePayload(msg.payload));
      };
      const c = client;
      const onLost = (err?: unknown) => {
        if (this.#client !== c) return;
        this.#client = undefined;
        detach();
        destroy(c, err instanceof Error ? err : new Error("LISTEN connection ended"));
        if (err) this.#onError(err);
        this.#scheduleReconnect();
      };
      const onEnd = () => onLost();
      const detach = () => {
        c.removeListener("notification", onNotification);
        c.removeListener("error", onLost);
        c.removeListener("end", onEnd);
      };
      c.on("notification", onNotification);
      c.on("error", onLost);
      c.on("end", onEnd);
      c.removeListener("error", onEarly);
      try {
        if (early !== undefined) throw early;
        await c.query(`LISTEN ${quoteIdent(this.#channel)}`);
      } catch (err) {
        detach();
        throw err;
      }
      if (this.#closed || this.#subscribers.size === 0) {
        detach();
        destroy(c, new Error("still LISTENing: not fit for the pool"));
        return;
      }
      this.#client = c;
      this.#detach = detach;
      this.#backoff = MIN_BACKOFF_MS;
      // Whatever was notified while we were not listening is lost: look now.
      this.#emit({ type: "ready" });
    } catch (err) {
      if (client) destroy(client, err instanceof Error ? err : new Error(String(err)));
      this.#onError(err);
      this.#scheduleReconnect();
    }
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#subscribers.size === 0 || this.#retry) return;
    const delay = this.#backoff;
    this.#backoff = Math.min(MAX_BACKOFF_MS, this.#backoff * 2);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed && this.#subscribers.size > 0) this.#start();
    }, delay);
    this.#retry.unref();
  }

  #stop(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    // Until it is back in the pool, a connection error must not become an
    // unhandled 'error' event: swallow it (the UNLISTEN below fails with it).
    const swallow = () => undefined;
    client.on("error", swallow);
    this.#detach?.();
    this.#detach = undefined;
    // UNLISTEN so the pooled connection comes back clean; if that fails, drop it.
    const done = (err?: Error) => {
      client.removeListener("error", swallow);
      client.release(err);
    };
    client.query(`UNLISTEN ${quoteIdent(this.#channel)}`).then(() => done(), done);
  }
}

/**
 * Live updates: a server-sent-events stream per open page that says "this page
 * is out of date" (`event: change`), after which the page fetches itself again.
 *
 * The stream compares a fingerprint of what the page shows (a run's status and
 * its event log's last sequence number; the newest runs and failed steps for
 * the lists) whenever the runtime hints that the store changed
 * (`rt.watchChanges`: this process's commits, the SQLite WAL watch, Postgres
 * LISTEN/NOTIFY, which also tells of runs that finish or are paused without
 * making work ready), and at least every `POLL_MS`, since a Postgres claim (a
 * step starting) sends no NOTIFY. Looks are at most `MIN_GAP_MS` apart, so a
 * busy store costs each open page a few reads a second.
 */
import type { Runtime } from "../engine/runtime.js";

export const POLL_MS = 2_000;
const MIN_GAP_MS = 150;
const KEEPALIVE_MS = 15_000;

/** One subscription to the runtime's change hints, shared by every open stream. */
export class ChangeHub {
  readonly #rt: Runtime;
  readonly #waiting = new Set<() => void>();
  #streams = 0;
  #unsubscribe: (() => void) | undefined;

  constructor(rt: Runtime) {
    this.#rt = rt;
  }

  /** Counts an open stream; the hub listens to the runtime while any is open. */
  open(): () => void {
    if (this.#streams++ === 0) this.#unsubscribe = this.#rt.watchChanges(() => this.#wakeAll());
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      if (--this.#streams === 0) {
        this.#unsubscribe?.();
        this.#unsubscribe = undefined;
      }
    };
  }

  /** Resolves on the next change hint, after `ms`, or when `signal` aborts. */
  next(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.#waiting.add(done);
    });
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiting]) wake();
  }
}

/** What a live page's state is summed up by; a different value means the page is out of date. */
export type Fingerprint = () => Promise<string>;

export function runFingerprint(rt: Runtime, runId: string): Fingerprint {
  return async () => {
    const [run, events] = await Promise.all([rt.workflow(runId), rt.events(runId)]);
    return `${run?.status}|${run?.updatedAt.getTime()}|${events.length}|${events.at(-1)?.seq}`;
  };
}

export function listFingerprint(rt: Runtime): Fingerprint {
  return async () => {
    const [runs, failed] = await Promise.all([rt.listRuns({ limit: 50 }), rt.listFailedSteps({ limit: 20 })]);
    return [...runs.map((r) => `${r.id}:${r.status}:${r.updatedAt.getTime()}`), ...failed.map((s) => `${s.runId}/${s.id}:${s.status}`)].join("|");
  };
}

/**
 * The SSE response. It sends `ready` once it has read the first fingerprint (the
 * page then fetches itself once, so nothing that changed since it was rendered
 * is missed) and `change` on every later difference. Ends when the client goes.
 */
export function liveResponse(hub: ChangeHub, fingerprint: Fingerprint, clientGone: AbortSignal, headers: Record<string, string>): Response {
  const stop = new AbortController();
  clientGone.addEventListener("abort", () => stop.abort(), { once: true });
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const close = hub.open();
      const send = (text: string) => controller.enqueue(encoder.encode(text));
      try {
        let last = await fingerprint();
        send(`retry: 1000\nevent: ready\ndata: \n\n`);
        let lastSent = Date.now();
        let lastLook = Date.now();
        while (!stop.signal.aborted) {
          await hub.next(POLL_MS, stop.signal);
          if (stop.signal.aborted) break;
          const gap = MIN_GAP_MS - (Date.now() - lastLook);
          if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap)); // folds a burst of hints into one look
          lastLook = Date.now();
          const now = await fingerprint();
          if (now !== last) {
            last = now;
            send(`event: change\ndata: \n\n`);
            lastSent = Date.now();
          } else if (Date.now() - lastSent > KEEPALIVE_MS) {
            send(`: keep-alive\n\n`); // finds a client that left without a FIN
            lastSent = Date.now();
          }
        }
      } catch {
        // the client left (enqueue on a closed stream) or a read failed: the page reconnects
      } finally {
        close();
        try {
          controller.close();
        } catch {
          // already closed by a cancel
        }
      }
    },
    cancel() {
      stop.abort();
    },
  });
  return new Response(body, {
    headers: { ...headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" },
  });
}

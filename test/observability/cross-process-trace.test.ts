/**
 * One trace across processes: the test process starts a run inside a request
 * span; worker processes with their own OpenTelemetry SDK run its step
 * (test/fixtures/otel-worker.mjs, on the BUILT package) and send their spans
 * back. Worker A takes the step and is frozen (SIGSTOP, as a VM suspend or a
 * very long pause would) past its lease; worker B reclaims the step and
 * succeeds; A, resumed, finds its lease lost: its attempt's span ends with an
 * error status. On SQLite and on PostgreSQL.
 *
 * (A SIGKILLed worker cannot end its spans at all: they are never exported.)
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { newPackage } from "../../src/index.js";
import { STORE_KINDS, useCrashRuntime } from "../crash/harness.js";
import { installOtel } from "./otel-setup.js";

const otel = installOtel();
const SCRIPT = fileURLToPath(new URL("../fixtures/otel-worker.mjs", import.meta.url));

interface SpanData {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  events: string[];
}
type Message = { type: string; pid?: number; span?: SpanData };

/** A forked worker and the messages it sent, with a wait for the next one that matches. */
function spawn(config: object) {
  const messages: Message[] = [];
  const waiters = new Set<() => void>();
  const child: ChildProcess = fork(SCRIPT, [JSON.stringify(config)], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  child.on("message", (m: Message) => {
    messages.push(m);
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const waitFor = (match: (m: Message) => boolean) =>
    new Promise<Message>((resolve, reject) => {
      const check = () => {
        const found = messages.find(match);
        if (found) {
          waiters.delete(check);
          resolve(found);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check);
          reject(new Error(`worker exited before the message came`));
        }
      };
      waiters.add(check);
      child.on("exit", check);
      check();
    });
  return { child, messages, waitFor, exited, spans: () => messages.flatMap((m) => (m.span ? [m.span] : [])) };
}

const pkg = newPackage("xp").entrypoint((run) => void run.step("job", null, { kind: "xp/work" })).build();

describe.each(STORE_KINDS)("one trace across processes on %s", (kind) => {
  const env = useCrashRuntime(kind, pkg);

  it("continues the starter's trace in the workers; the frozen worker's lost attempt ends in error", async () => {
    const traceId = await otel.tracer.startActiveSpan("POST /jobs", async (request) => {
      await env.rt.startRun("xp", null, { runId: "xp-1" });
      request.end();
      return request.spanContext().traceId;
    });
    const start = otel.spansOf(traceId).find((s) => s.name === "trellis.start xp");
    expect(start).toBeDefined();

    const worker = (workerId: string, hold: boolean) => spawn({ store: env.box.store, workerId, hold, leaseDuration: 1_000, pollInterval: 50 });
    const a = worker("worker-a", true);
    try {
      await a.waitFor((m) => m.type === "executing");
      a.child.kill("SIGSTOP");
      const b = worker("worker-b", false);
      try {
        // B reclaims the step once A's lease has expired, and runs it to success.
        expect((await env.rt.waitForRun("xp-1", { timeout: 30_000 })).status).toBe("succeeded");
        a.child.kill("SIGCONT");
        // A's heartbeat finds the lease gone; its executor gives up; its span ends.
        const lost = (await a.waitFor((m) => m.span?.name === "trellis.step xp/work")).span!;
        const won = (await b.waitFor((m) => m.span?.name === "trellis.step xp/work")).span!;

        for (const span of [lost, won]) {
          expect(span.traceId).toBe(traceId);
          expect(span.parentSpanId).toBe(start!.spanContext().spanId);
          expect(span.attributes).toMatchObject({ "trellis.run.id": "xp-1", "trellis.step.id": "job", "trellis.step.kind": "xp/work" });
        }
        expect(lost.attributes["trellis.step.outcome"]).toBe("lease_lost");
        expect(lost.attributes["error.type"]).toBe("lease_lost");
        expect(lost.status.code).toBe(2); // ERROR
        expect(lost.events).toContain("trellis.step.lease_lost");
        expect(won.attributes["trellis.step.outcome"]).toBe("succeeded");
        expect(won.attributes["trellis.step.reclaims"]).toBe(1);
        expect(lost.attributes["trellis.step.reclaims"]).toBeUndefined();
        expect(won.status.code).toBe(0);
        expect(new Set([process.pid, a.child.pid, b.child.pid]).size).toBe(3);
      } finally {
        b.child.send({ type: "stop" });
        await b.exited;
      }
    } finally {
      a.child.kill("SIGCONT");
      if (a.child.connected) a.child.send({ type: "stop" });
      await a.exited;
    }
  });
});

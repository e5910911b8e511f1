/**
 * Start leases across a crash: a process whose idle workers took the steps of
 * the runs it started (leased in the start's own transaction, no claim) is
 * SIGKILLed inside them; another process reclaims them once the leases expire
 * and each commits exactly once. The log tells it in order. On SQLite and on
 * PostgreSQL.
 */
import { describe, expect, it } from "vitest";
import { pollUntil, STORE_KINDS, useCrashRuntime } from "./harness.js";

describe.each(STORE_KINDS)("on %s", (kind) => {
  const env = useCrashRuntime(kind);

  it("steps leased at start by a process that is then killed are reclaimed by another and commit once", async () => {
    const runIds = ["s0", "s1", "s2"];
    const leaseDuration = 1_000;
    // A polls once an hour: it can only have its steps through the start itself.
    const a = env.box.spawn({ workerId: "starter", probe: "hang", leaseDuration, pollInterval: 3_600_000, startRuns: runIds, reportStore: true });
    // Once its first claim has come back (empty), its workers are idle.
    await a.waitFor("ready");
    await a.waitFor("claimed");
    a.child.send({ type: "start-runs" });
    await a.waitFor("started");
    for (const runId of runIds) await a.waitFor("executing", (m) => m.runId === runId);
    for (const runId of runIds) {
      const [probe] = await env.rt.steps(runId);
      expect(probe).toMatchObject({ status: "running", attempt: 1, reclaims: 0 });
      expect(probe?.lease?.workerId).toBe("starter");
    }
    // Not through a claim: none of the starter's claims returned them.
    const claimed = a.messages.filter((m) => m.type === "claimed").flatMap((m) => m.steps as string[]);
    expect(claimed.filter((s) => runIds.some((r) => s.startsWith(`${r}/`)))).toEqual([]);
    expect(await a.kill()).toEqual({ code: null, signal: "SIGKILL" });

    const b = env.box.spawn({ workerId: "rescuer", probe: "complete", outcome: "result", leaseDuration, pollInterval: 50 });
    for (const runId of runIds) {
      await pollUntil(`run ${runId} to succeed`, async () => ((await env.rt.workflow(runId))?.status === "succeeded" ? true : undefined), 20_000);
      expect((await env.rt.result(runId, "probe"))?.data).toEqual({ workerId: "rescuer", pid: b.pid });
      expect((await env.rt.events(runId)).map((e) => [e.type, e.workerId])).toEqual([
        ["run_started", undefined],
        ["step_ready", undefined],
        ["step_claimed", "starter"],
        ["step_reclaimed", "starter"],
        ["step_claimed", "rescuer"],
        ["step_succeeded", "rescuer"],
        ["run_succeeded", undefined],
      ]);
    }
    // Each executor ran once per lease: once in the killed starter, once in the rescuer.
    const starts = env.box.starts().map((l) => `${l.workerId} ${l.runId} ${l.attempt} ${l.reclaims}`).sort();
    expect(starts).toEqual(runIds.flatMap((r) => [`rescuer ${r} 1 1`, `starter ${r} 1 0`]).sort());
    expect(await b.stop()).toEqual({ code: 0, signal: null });
    expect(b.errors).toEqual([]);
  });
});

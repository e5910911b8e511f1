/**
 * Conformance: who performed an operator action and why (`{ actor, reason }`)
 * is written into the event the action logs, in its transaction, and read
 * back by `rt.events` and heard by `rt.on`; invalid notes change nothing.
 */
import { describe, expect, it } from "./runner.js";
import { newPackage } from "../package.js";
import { requireSteps } from "../step-options.js";
import type { RunEvent } from "../types.js";
import { type ConformanceTarget, registerOk, rejectionCode, useHarness } from "./harness.js";

/** The events that carry a note, as `type step actor reason`. */
const notes = (events: RunEvent[]) =>
  events.filter((e) => e.actor !== undefined || e.reason !== undefined).map((e) => [e.type, e.stepId ?? "", e.actor ?? "", e.reason ?? ""].join(" | "));

export function operatorNotesSuite(target: ConformanceTarget): void {
  describe("operator notes in the event log", () => {
    const h = useHarness(target);

    async function setup() {
      const rt = await h().runtime();
      registerOk(rt);
      rt.registerPackage(
        newPackage("ops")
          .entrypoint((run) => {
            const bad = run.step("bad", null, { kind: "fail" });
            run.step("after", null, { kind: "ok", dependsOn: requireSteps(bad) });
            run.waitForSignal("gate", "go");
          })
          .build(),
      );
      return rt;
    }

    it("records the actor and reason of retry, retry run, pause, resume, signal and cancel", async () => {
      const rt = await setup();
      const heard: RunEvent[] = [];
      rt.on("*", (e) => heard.push(e));
      await rt.startRun("ops", null, { runId: "r" });
      await rt.runOnce();
      await rt.retryStep("r", "bad", { actor: "alice", reason: "upstream fixed <b>\"now\"</b>" });
      await rt.runOnce();
      expect(await rt.retryRun("r", { actor: "bob" })).toEqual(["bad"]);
      await rt.runOnce();
      await rt.pauseRun("r", { actor: "carol", reason: "maintenance" });
      await rt.resumeRun("r", { reason: "maintenance over" });
      expect(await rt.signal("r", "go", { n: 1 }, { id: "s1", actor: "dave", reason: "approved" })).toEqual({ delivered: true });
      // A retried delivery is not a second event, and keeps the first note.
      expect(await rt.signal("r", "go", { n: 1 }, { id: "s1", actor: "eve" })).toEqual({ delivered: false });
      await rt.cancelRun("r", { actor: "frank", reason: "not needed" });

      const events = await rt.events("r");
      expect(notes(events)).toEqual([
        'operator_retry | bad | alice | upstream fixed <b>"now"</b>',
        "operator_retry | bad | bob | ",
        "run_paused |  | carol | maintenance",
        "run_resumed |  |  | maintenance over",
        "signal_received |  | dave | approved",
        "operator_cancel |  | frank | not needed",
      ]);
      // The note joins what the event already said; it is not left in `data` too.
      const signal = events.find((e) => e.type === "signal_received");
      expect(signal?.data).toEqual({ name: "go", id: "s1" });
      expect(events.find((e) => e.type === "operator_cancel")?.data).toBeUndefined();
      // Observers hear the same events, notes included.
      expect(notes(heard)).toEqual(notes(events));
    });

    it("writes no note when none is given, and refuses a bad one before anything changes", async () => {
      const rt = await setup();
      await rt.startRun("ops", null, { runId: "r" });
      await rt.runOnce();
      await rt.pauseRun("r");
      expect(notes(await rt.events("r"))).toEqual([]);
      const before = await rt.events("r");
      expect(await rejectionCode(rt.resumeRun("r", { actor: "" }))).toBe("invalid_input");
      expect(await rejectionCode(rt.resumeRun("r", { actor: "x".repeat(201) }))).toBe("invalid_input");
      expect(await rejectionCode(rt.resumeRun("r", { reason: "nul\u0000" }))).toBe("invalid_input");
      expect(await rejectionCode(rt.resumeRun("r", { who: "me" } as never))).toBe("invalid_input");
      expect(await rejectionCode(rt.retryStep("r", "bad", { actor: 42 } as never))).toBe("invalid_input");
      expect(await rejectionCode(rt.signal("r", "go", null, { reason: "y".repeat(1_001) }))).toBe("invalid_input");
      expect(await rt.events("r")).toEqual(before);
      expect((await rt.workflow("r"))?.status).toBe("paused");
      // The state check is the store's: a refused action leaves no note either.
      expect(await rejectionCode(rt.pauseRun("r", { actor: "again" }))).toBe("invalid_state");
      expect(await rejectionCode(rt.retryRun("nope", { actor: "x" }))).toBe("not_found");
      expect(await rt.events("r")).toEqual(before);
    });
  });
}

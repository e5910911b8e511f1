/**
 * The built-in actions and the run's output on both stores: `core.sleep` is a
 * durable timer, `core.inquiry` with a `timeout` follows `on_timeout` when no
 * answer comes, and an `output_map` result the `output` schema refuses fails
 * the run with `invalid_input` naming the field.
 */
import { describe, expect, it } from "vitest";
import { stores } from "../support/stores.js";
import { useHarness } from "./support.js";

describe.each(stores("dbuiltin"))("declarative built-ins on $name", (target) => {
  const harness = useHarness(target);

  it("core.sleep waits on a durable timer for input.seconds, then its transitions follow", async () => {
    const h = await harness();
    h.register(`
ref: t.sleep
version: "1"
tasks:
  - name: pause
    action: core.sleep
    input: { seconds: 90 }
    on_success: after
  - name: after
    action: t.echo
    input: { slept: "{{ task.pause.status }}" }
  - name: broken
    action: core.sleep
    input: { minutes: 1 }
    on_failure: handled
  - name: handled
    action: t.echo
    input: { code: "{{ task.broken.error.code }}" }
`);
    const { id } = await h.rt.startRun("t.sleep", {});
    await h.env.runUntilIdle();
    const waiting = (await h.rt.steps(id)).find((s) => s.id === "pause");
    expect(waiting?.status).toBe("waiting");
    // A durable timer: the step records when it wakes, 90 s after it started waiting.
    expect((waiting?.wakeAt?.getTime() ?? 0) - h.env.clock.now()).toBe(90_000);
    expect(h.calls.get("t.echo")).toEqual([{ code: "invalid_input" }]);
    const started = h.env.clock.now();
    expect((await h.finish(id)).status).toBe("succeeded");
    expect(h.env.clock.now() - started).toBeGreaterThanOrEqual(90_000);
    expect(h.calls.get("t.echo")).toEqual([{ code: "invalid_input" }, { slept: "succeeded" }]);
  });

  it("core.inquiry with a timeout: no answer in time fails it with timeout, and on_timeout handles it", async () => {
    const h = await harness();
    h.register(`
ref: t.expiring
version: "1"
tasks:
  - name: approve
    action: core.inquiry
    timeout: 3600
    input: { prompt: "Go?" }
    on_success: go
    on_timeout: expired
    on_failure: wrong
  - name: go
    action: t.echo
    input: { went: true }
  - name: expired
    action: t.echo
    input: { code: "{{ task.approve.error.code }}" }
  - name: wrong
    action: t.echo
    input: { wrong: true }
`);
    const { id } = await h.rt.startRun("t.expiring", {});
    expect((await h.finish(id)).status).toBe("succeeded");
    expect(h.calls.get("t.echo")).toEqual([{ code: "timeout" }]);
    expect((await h.rt.steps(id)).find((s) => s.id === "approve")?.lastError?.code).toBe("timeout");
  });

  it("an output_map result the output schema refuses fails the run with invalid_input naming the field", async () => {
    const h = await harness();
    h.register(`
ref: t.output
version: "1"
parameters:
  n: { type: string }
tasks:
  - name: work
    action: t.echo
    input: { n: "{{ parameters.n }}" }
output_map:
  n: "{{ task.work.result.n }}"
output:
  type: object
  properties:
    n: { type: integer, required: true }
`);
    const { id } = await h.rt.startRun("t.output", { n: "seven" });
    expect((await h.finish(id)).status).toBe("failed");
    const done = (await h.rt.steps(id)).find((s) => s.id.startsWith("~done."));
    expect(done?.lastError?.code).toBe("invalid_input");
    expect(done?.lastError?.message).toBe('the output of "t.output" is invalid: n: Invalid input: expected number, received string');
    await expect(h.rt.output(id)).rejects.toMatchObject({ code: "invalid_state" });
  });
});

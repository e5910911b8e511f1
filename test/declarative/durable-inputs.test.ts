/**
 * Expressions are evaluated durably, on both stores: a task's input is computed
 * once, from committed state, and stored with its step. A worker that dies after
 * running the task and before committing it leaves the step to be reclaimed, and
 * the second execution gets the stored input, not a new evaluation (even of
 * `system.timestamp`, with the clock moved on); a worker that dies in the route
 * step before its commit leaves nothing of the next task, which is then laid out
 * once, by the route step's second run.
 */
import { describe, expect, it } from "vitest";
import { stores } from "../support/stores.js";
import { useHarness } from "./support.js";

const definition = `
ref: t.durable
version: "1"
tasks:
  - name: first
    action: t.echo
    input: { n: 1 }
    on_success: second
  - name: second
    action: t.echo
    with_items: [a, b]
    input: { at: "{{ system.timestamp }}", n: "{{ task.first.result.n }}", item: "{{ item }}" }
output_map:
  inputs: "{{ task.second.result }}"
`;

describe.each(stores("ddurable"))("durable inputs on $name", (target) => {
  const harness = useHarness(target);

  it("a step reclaimed after a crash runs again with the input stored when it was laid out", async () => {
    const h = await harness();
    h.register(definition);
    const crash = h.env.crashNextAttempt({ stepId: "second[1]" });
    const { id } = await h.rt.startRun("t.durable", {});
    await h.env.runUntilIdle();
    expect(crash.crashed).toBe(true);
    const laidOut = new Date(h.env.clock.now()).toISOString();
    // The lease of the dead worker expires, and the step is reclaimed and runs again.
    await h.env.advance(60_000);
    expect((await h.finish(id)).status).toBe("succeeded");
    const seconds = (h.calls.get("t.echo") ?? []).filter((c) => "item" in (c as object));
    expect(seconds).toEqual([
      { at: laidOut, n: 1, item: "a" },
      { at: laidOut, n: 1, item: "b" },
      { at: laidOut, n: 1, item: "b" },
    ]);
    expect((await h.rt.step(id, "second[1]"))?.input).toEqual({ at: laidOut, n: 1, item: "b" });
    expect((await h.rt.step(id, "second[1]"))?.reclaims).toBe(1);
    expect(await h.rt.output(id)).toEqual({ inputs: [{ at: laidOut, n: 1, item: "a" }, { at: laidOut, n: 1, item: "b" }] });
  });

  it("a route step that dies before its commit lays the next task out once, when it runs again", async () => {
    const h = await harness();
    h.register(definition);
    const crash = h.env.crashNextAttempt({ stepId: "first.route" });
    const { id } = await h.rt.startRun("t.durable", {});
    await h.env.runUntilIdle();
    expect(crash.crashed).toBe(true);
    // Nothing the dead route step evaluated was written.
    expect((await h.rt.steps(id)).some((s) => s.id.startsWith("second"))).toBe(false);
    await h.env.advance(60_000);
    const relaid = new Date(h.env.clock.now()).toISOString();
    expect((await h.finish(id)).status).toBe("succeeded");
    const items = (await h.rt.steps(id)).filter((s) => s.id.startsWith("second["));
    expect(items.map((s) => [s.id, s.attempt, s.reclaims])).toEqual([
      ["second[0]", 1, 0],
      ["second[1]", 1, 0],
    ]);
    expect((await h.rt.step(id, "second[0]"))?.input).toEqual({ at: relaid, n: 1, item: "a" });
  });
});

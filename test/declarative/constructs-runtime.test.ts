/**
 * The constructs of the format that reach outside the run, on both stores: a
 * subworkflow's child run and its output, an inquiry answered by a signal,
 * stored values and secrets, the run-time limits, a run whose start tasks are
 * all skipped, and bounded loops. The run's own flow (transitions, decisions,
 * joins, parallel blocks, items, retries, timeouts) is in constructs.test.ts.
 */
import { describe, expect, it } from "vitest";
import { stores } from "../support/stores.js";
import { approvalYaml, useHarness } from "./support.js";

describe.each(stores("dconsrt"))("declarative constructs beyond the run on $name", (target) => {
  const harness = useHarness(target);

  it("a subworkflow runs as a child run and its output is the task's result", async () => {
    const h = await harness();
    h.register(`
ref: t.child
version: "1"
parameters:
  n: { type: integer }
tasks:
  - name: double
    action: t.double
    input: { n: "{{ parameters.n }}" }
output_map:
  value: "{{ task.double.result.n }}"
`);
    h.register(`
ref: t.parent
version: "1"
tasks:
  - name: sub
    action: t.child
    input: { n: 21 }
    on_success: report
  - name: report
    action: t.echo
    input: { got: "{{ task.sub.result.value }}" }
output_map:
  answer: "{{ task.sub.result.value }}"
`);
    const { id } = await h.rt.startRun("t.parent", {});
    expect((await h.finish(id)).status).toBe("succeeded");
    expect(await h.rt.output(id)).toEqual({ answer: 42 });
    expect(h.calls.get("t.echo")).toEqual([{ got: 42 }]);
  });

  it("core.inquiry waits for its signal; the answer is validated against the schema and becomes the result", async () => {
    const h = await harness();
    h.register(approvalYaml("t.inquiry", "Deploy?"));
    const { id } = await h.rt.startRun("t.inquiry", {});
    expect((await h.finish(id)).status).toBe("running");
    const step = (await h.rt.steps(id)).find((s) => s.id === "approve");
    expect(step?.status).toBe("waiting");
    expect(step?.metadata["declarative.prompt"]).toBe("Deploy?");
    await h.env.signal(id, "inquiry:approve", { approved: true });
    expect((await h.rt.workflow(id))?.status).toBe("succeeded");
    // An answer that does not match the schema fails the task (and, unhandled, the run).
    const bad = await h.rt.startRun("t.inquiry", {});
    await h.rt.signal(bad.id, "inquiry:approve", { approved: "yes" });
    expect((await h.finish(bad.id)).status).toBe("failed");
    const route = (await h.rt.steps(bad.id)).find((s) => s.id === "approve.route");
    expect(route?.lastError?.message).toContain("approved");
    expect(h.calls.get("t.echo")).toEqual([{ deploy: true }]);
  });

  it("pack.config and kv.get are stored values; a kv.get_secret reaches the executor but never the stored input", async () => {
    const h = await harness();
    h.register(
      `
ref: t.secrets
version: "1"
tasks:
  - name: call
    action: t.quiet
    input:
      url: "{{ pack.config.base }}/{{ kv.get('path') }}"
      token: "{{ kv.get_secret('api.token') }}"
`,
      { config: { base: "https://api" }, kv: async (key) => (key === "path" ? "v1" : undefined), secrets: (key) => (key === "api.token" ? "s3cr3t" : undefined) },
    );
    const { id } = await h.rt.startRun("t.secrets", {});
    expect((await h.finish(id)).status).toBe("succeeded");
    expect(h.calls.get("t.quiet")).toEqual([{ url: "https://api/v1", token: "s3cr3t" }]);
    // Stored inputs too (rt.step): the guard step's input holds the placeholder, not the value.
    const all = await Promise.all((await h.rt.steps(id)).map((s) => h.rt.step(id, s.id)));
    const results = await Promise.all(all.map((s) => h.rt.result(id, s?.id as string)));
    const stored = JSON.stringify(all) + JSON.stringify(await h.rt.events(id)) + JSON.stringify(results);
    expect(stored).toContain("https://api/v1");
    expect(stored).toContain('"token":{"$secret":"api.token"}');
    expect(stored).not.toContain("s3cr3t");
    const call = (await h.rt.steps(id)).find((s) => s.id === "call");
    expect(call?.kind).toBe("t.secrets#guard");
  });

  it("limits at run time: a subworkflow nesting past the depth limit and a with_items past the item limit fail their task", async () => {
    const h = await harness();
    h.register(`
ref: t.recursive
version: "1"
tasks:
  - name: again
    action: t.recursive
`);
    h.register(`
ref: t.many
version: "1"
tasks:
  - name: each
    action: t.echo
    with_items: "{{ kv.get('big') }}"
`, { kv: { big: Array.from({ length: 50_001 }, (_, i) => i) } });
    const deep = await h.rt.startRun("t.recursive", {});
    expect((await h.finish(deep.id)).status).toBe("failed");
    const innermost = `${deep.id}${"/again".repeat(10)}`;
    const route = (await h.rt.steps(innermost)).find((s) => s.id === "again.route");
    expect(route?.lastError?.details).toMatchObject({ task: "again", error: { code: "child_depth_exceeded" } });
    const many = await h.rt.startRun("t.many", {});
    expect((await h.finish(many.id)).status).toBe("failed");
    const manyRoute = (await h.rt.steps(many.id)).find((s) => s.id === "each.route");
    expect(manyRoute?.lastError?.details).toMatchObject({ error: { code: "too_many_items" } });
    expect((await h.rt.steps(many.id)).some((s) => s.id.startsWith("each["))).toBe(false);
  });

  it("a run whose every start task is skipped by when still finishes, with its output", async () => {
    const h = await harness();
    h.register(`
ref: t.skipped
version: "1"
parameters:
  go: { type: boolean, default: false }
tasks:
  - name: maybe
    action: t.echo
    when: "{{ parameters.go }}"
output_map:
  ran: "{{ task.maybe.status | default('skipped') }}"
`);
    const { id } = await h.rt.startRun("t.skipped", {});
    expect((await h.finish(id)).status).toBe("succeeded");
    expect(await h.rt.output(id)).toEqual({ ran: "skipped" });
    expect(h.calls.get("t.echo")).toBeUndefined();
  });

  it("a bounded loop: a task reached again runs its next iteration; past max_iterations it fails with loop_limit", async () => {
    const h = await harness();
    const loop = (max: number) => `
ref: t.loop${max}
version: "1"
vars:
  n: 0
tasks:
  - name: poll
    action: t.echo
    max_iterations: ${max}
    input: { n: "{{ vars.n + 1 }}" }
    publish: { n: "{{ task.poll.result.n }}" }
    decision:
      - when: "{{ vars.n >= 3 }}"
        next: done
      - default: poll
  - name: done
    action: t.echo
    input: { polls: "{{ vars.n }}", last: "{{ task.poll.result.n }}" }
output_map:
  polls: "{{ task.poll.result.n }}"
`;
    h.register(loop(5));
    h.register(loop(2));
    const ok = await h.rt.startRun("t.loop5", {});
    expect((await h.finish(ok.id)).status).toBe("succeeded");
    expect(h.calls.get("t.echo")).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { polls: 3, last: 3 }]);
    expect(await h.rt.output(ok.id)).toEqual({ polls: 3 });
    expect((await h.rt.steps(ok.id)).map((s) => s.id).filter((id) => id.startsWith("poll")).sort()).toEqual([
      "poll", "poll.route", "poll@2", "poll@2.route", "poll@3", "poll@3.route",
    ]);
    const capped = await h.rt.startRun("t.loop2", {});
    expect((await h.finish(capped.id)).status).toBe("failed");
    const third = (await h.rt.steps(capped.id)).find((s) => s.id === "poll@3.route");
    expect(third?.lastError?.details).toMatchObject({ task: "poll", error: { code: "loop_limit" } });
  });
});

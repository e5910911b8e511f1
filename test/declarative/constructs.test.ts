/**
 * Every construct of the format on both stores: each transition kind, decision
 * paths, `when`, `join: all`, nested parallel blocks, `with_items` with and
 * without batches, retry with `on_error`, timeout with `on_timeout`. The
 * constructs that reach outside the run (subworkflows, inquiries, stored values,
 * run-time limits, loops) are in constructs-runtime.test.ts.
 */
import { describe, expect, it } from "vitest";
import { waitUntil } from "../../src/conformance/harness.js";
import { stores } from "../support/stores.js";
import { type Harness, useHarness } from "./support.js";

async function steps(h: Harness, runId: string): Promise<Record<string, string>> {
  return Object.fromEntries((await h.rt.steps(runId)).map((s) => [s.id, s.status]));
}

/** The tasks whose action ran, by the `declarative.task` metadata of their steps. */
async function ran(h: Harness, runId: string): Promise<string[]> {
  const all = await h.rt.steps(runId);
  return all.filter((s) => s.metadata["declarative.role"] === undefined && s.status === "succeeded").map((s) => s.id).sort();
}

const transitions = `
ref: t.transitions
version: "1"
parameters:
  fail: { type: boolean, default: false }
tasks:
  - name: work
    action: t.fail
    input: { code: boom }
    on_failure: [on_fail]
    on_complete: always
  - name: on_fail
    action: t.echo
    input: { error: "{{ task.work.error.code }}" }
  - name: always
    action: t.echo
    input: { status: "{{ task.work.status }}" }
`;

describe.each(stores("dcons"))("declarative constructs on $name", (target) => {
  const harness = useHarness(target);

  it("on_failure and on_complete both fire on a failure, and a handled failure does not fail the run", async () => {
    const h = await harness();
    h.register(transitions);
    const { id } = await h.rt.startRun("t.transitions", {});
    expect((await h.finish(id)).status).toBe("succeeded");
    expect(h.calls.get("t.echo")).toEqual(expect.arrayContaining([{ error: "boom" }, { status: "failed" }]));
    expect((await steps(h, id)).work).toBe("failed");
  });

  it("an unhandled failure fails the run with task_failed, and on_success paths do not run", async () => {
    const h = await harness();
    h.register(`
ref: t.unhandled
version: "1"
tasks:
  - name: work
    action: t.fail
    on_success: next
  - name: next
    action: t.echo
`);
    const { id } = await h.rt.startRun("t.unhandled", {});
    expect((await h.finish(id)).status).toBe("failed");
    const route = (await h.rt.steps(id)).find((s) => s.id === "work.route");
    expect(route?.lastError?.code).toBe("task_failed");
    expect(h.calls.get("t.echo")).toBeUndefined();
  });

  it("decision takes the first matching branch, else default; when skips a task", async () => {
    const h = await harness();
    h.register(`
ref: t.decision
version: "1"
parameters:
  env: { type: string, enum: [dev, prod] }
tasks:
  - name: check
    action: core.noop
    input: { env: "{{ parameters.env }}" }
    decision:
      - when: "{{ task.check.result.env == 'prod' }}"
        next: careful
      - default: fast
  - name: careful
    action: t.echo
    input: { path: careful }
    on_success: audit
  - name: fast
    action: t.echo
    input: { path: fast }
    on_success: audit
  - name: audit
    action: t.echo
    when: "{{ parameters.env == 'prod' }}"
    input: { path: audit }
`);
    const prod = await h.rt.startRun("t.decision", { env: "prod" });
    expect((await h.finish(prod.id)).status).toBe("succeeded");
    const dev = await h.rt.startRun("t.decision", { env: "dev" });
    expect((await h.finish(dev.id)).status).toBe("succeeded");
    expect(await ran(h, prod.id)).toEqual(["audit", "careful", "check"]);
    expect(await ran(h, dev.id)).toEqual(["check", "fast"]);
  });

  it("a task reached twice runs once (the first arrival); join: all waits for every inbound task and merges their vars", async () => {
    const h = await harness();
    h.register(`
ref: t.join
version: "1"
tasks:
  - name: a
    action: t.echo
    input: { from: a }
    publish: { from_a: "{{ task.a.result.from }}" }
    on_success: [once, joined]
  - name: b
    action: t.echo
    input: { from: b }
    publish: { from_b: "{{ task.b.result.from }}" }
    on_success: [once, joined]
  - name: once
    action: t.echo
    input: { task: once }
  - name: joined
    join: all
    action: t.echo
    input: { a: "{{ vars.from_a }}", b: "{{ vars.from_b }}" }
`);
    const { id } = await h.rt.startRun("t.join", {});
    expect((await h.finish(id)).status).toBe("succeeded");
    const echoes = h.calls.get("t.echo") ?? [];
    expect(echoes.filter((c) => (c as { task?: string }).task === "once")).toHaveLength(1);
    expect(echoes.filter((c) => "a" in (c as object) && "b" in (c as object))).toEqual([{ a: "a", b: "b" }]);
  });

  it("nested parallel blocks run every member; the block succeeds with their results and then follows on_success", async () => {
    const h = await harness();
    h.register(`
ref: t.parallel
version: "1"
tasks:
  - name: checks
    type: parallel
    tasks:
      - name: one
        action: t.echo
        input: { n: 1 }
      - name: inner
        type: parallel
        tasks:
          - name: two
            action: t.echo
            input: { n: 2 }
          - name: three
            action: t.double
            input: { n: 3 }
    on_success: after
    on_failure: failed
  - name: after
    action: t.echo
    input: { results: "{{ task.checks.result }}" }
  - name: failed
    action: t.echo
`);
    const { id } = await h.rt.startRun("t.parallel", {});
    expect((await h.finish(id)).status).toBe("succeeded");
    const last = (h.calls.get("t.echo") ?? []).find((c) => "results" in (c as object));
    expect(last).toEqual({ results: { one: { n: 1 }, inner: { two: { n: 2 }, three: { n: 6 } } } });
  });

  it("a failed member fails the block, and the block's on_failure handles it", async () => {
    const h = await harness();
    h.register(`
ref: t.parallel_fail
version: "1"
tasks:
  - name: block
    type: parallel
    tasks:
      - name: ok
        action: t.echo
      - name: bad
        action: t.fail
        input: { code: nope }
    on_failure: cleanup
  - name: cleanup
    action: t.echo
    input: { code: "{{ task.block.error.code }}" }
`);
    const { id } = await h.rt.startRun("t.parallel_fail", {});
    expect((await h.finish(id)).status).toBe("succeeded");
    expect(h.calls.get("t.echo")).toContainEqual({ code: "nope" });
  });

  it("with_items: one step per item, or per batch, results in order; concurrency bounds the items running at once", async () => {
    const h = await harness();
    h.register(`
ref: t.items
version: "1"
parameters:
  numbers: { type: array, items: { type: integer } }
tasks:
  - name: each
    action: t.double
    with_items: "{{ parameters.numbers }}"
    concurrency: 2
    input: { n: "{{ item + index * 0 }}" }
    on_success: batches
  - name: batches
    action: t.echo
    with_items: "{{ task.each.result }}"
    batch_size: 2
    input: { batch: "{{ item }}", index: "{{ index }}" }
output_map:
  doubled: "{{ task.each.result }}"
  batches: "{{ task.batches.result | length }}"
`);
    const { id } = await h.rt.startRun("t.items", { numbers: [1, 2, 3, 4, 5] });
    expect((await h.finish(id)).status).toBe("succeeded");
    expect(await h.rt.output(id)).toEqual({ doubled: [{ n: 2 }, { n: 4 }, { n: 6 }, { n: 8 }, { n: 10 }], batches: 3 });
    expect(h.calls.get("t.echo")).toEqual([
      { batch: [{ n: 2 }, { n: 4 }], index: 0 },
      { batch: [{ n: 6 }, { n: 8 }], index: 1 },
      { batch: [{ n: 10 }], index: 2 },
    ]);
    const items = (await h.rt.steps(id)).filter((s) => s.id.startsWith("each["));
    // Item i waits for item i - 2: never more than two at once, in any process.
    expect(items.find((s) => s.id === "each[3]")?.dependsOn).toEqual([{ stepId: "each[1]", required: false, on: "completed" }]);
    const events = await h.rt.events(id);
    let running = 0;
    let most = 0;
    for (const e of events) {
      if (!e.stepId?.startsWith("each[")) continue;
      if (e.type === "step_claimed") most = Math.max(most, ++running);
      if (e.type === "step_succeeded" || e.type === "step_failed") running--;
    }
    expect(most).toBeLessThanOrEqual(2);
  });

  it("retry: on_error decides which failures are retried", async () => {
    const h = await harness();
    h.register(`
ref: t.retry
version: "1"
parameters:
  code: { type: string }
tasks:
  - name: call
    action: t.flaky
    input: { succeedOn: 3, code: "{{ parameters.code }}" }
    retry:
      count: 3
      delay: 0.01
      backoff: exponential
      max_delay: 0.05
      on_error: "{{ task.call.error.type == 'timeout' }}"
`);
    const retried = await h.rt.startRun("t.retry", { code: "timeout" });
    expect((await h.finish(retried.id)).status).toBe("succeeded");
    const call = (await h.rt.steps(retried.id)).find((s) => s.id === "call");
    expect(call?.attempt).toBe(3);
    const refused = await h.rt.startRun("t.retry", { code: "bad_request" });
    expect((await h.finish(refused.id)).status).toBe("failed");
    const once = (await h.rt.steps(refused.id)).find((s) => s.id === "call");
    expect(once?.attempt).toBe(1);
    expect(once?.lastError?.code).toBe("bad_request");
  });

  it.each([
    ["constant", [1000, 1000, 1000, 1000]],
    ["linear", [1000, 2000, 3000, 3500]],
    ["exponential", [1000, 2000, 3500, 3500]],
  ])("retry backoff %s: the delays the events record, capped by max_delay", async (backoff, delays) => {
    const h = await harness();
    h.register(`
ref: t.backoff
version: "1"
tasks:
  - name: call
    action: t.flaky
    input: { succeedOn: 5 }
    retry: { count: 4, delay: 1, backoff: ${backoff}, max_delay: 3.5 }
`);
    const run = await h.rt.startRun("t.backoff", {});
    expect((await h.finish(run.id)).status).toBe("succeeded");
    const scheduled = (await h.rt.events(run.id)).filter((e) => e.type === "step_retry_scheduled");
    expect(scheduled.map((e) => (e.data as { readyAt: number }).readyAt - e.at.getTime())).toEqual(delays);
  });

  it("timeout: an attempt past its timeout fails with code timeout, and on_timeout handles it", async () => {
    const h = await harness();
    h.register(`
ref: t.timeout
version: "1"
tasks:
  - name: slow
    action: t.hang
    timeout: 0.2
    on_timeout: timed_out
    on_failure: failed
  - name: timed_out
    action: t.echo
    input: { code: "{{ task.slow.error.code }}" }
  - name: failed
    action: t.echo
    input: { wrong: true }
`);
    const { id } = await h.rt.startRun("t.timeout", {});
    const finished = h.finish(id);
    // The attempt's timeout is a timer on the fake clock, set when t.hang starts: then 0.2 s pass.
    await waitUntil(() => h.env.clock.pendingTimers === 1, "t.hang to start under its timeout");
    await h.env.advance(199);
    expect(h.env.clock.pendingTimers).toBe(1);
    await h.env.advance(1);
    expect((await finished).status).toBe("succeeded");
    expect(h.calls.get("t.echo")).toEqual([{ code: "timeout" }]);
  });
});

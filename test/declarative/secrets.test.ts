/**
 * `kv.get_secret` on both stores: the secret reaches the executor, in a plain
 * task, in every item of a `with_items`, through `vars`, and across retries, but
 * nothing the run stores (steps' inputs, results, events, the run itself, its
 * stored definition) and nothing the runtime logs, at any level, holds it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { parseWorkflow } from "../../src/declarative/index.js";
import { newExecutor } from "../../src/index.js";
import { createTestRuntime, type TestRuntime } from "../../src/testing/index.js";
import { stores } from "../support/stores.js";

const SECRET = "s3cr3t-Zq7";
const definition = `
ref: t.secret_paths
version: "1"
vars:
  token: "{{ kv.get_secret('api.token') }}"
tasks:
  - name: direct
    action: t.use
    input: { token: "{{ kv.get_secret('api.token') }}", base: "{{ pack.config.base }}" }
    on_success: each
  - name: each
    action: t.use
    with_items: [1, 2, 3]
    input: { token: "{{ vars.token }}", n: "{{ item }}" }
    on_success: flaky
  - name: flaky
    action: t.flaky_use
    input: { token: "{{ kv.get_secret('api.token') }}" }
    retry: { count: 2, on_error: "{{ task.flaky.error.code == 'flaky' }}" }
output_map:
  seen: "{{ task.each.result | length }}"
`;

describe.each(stores("dsecret"))("secrets on $name", (target) => {
  const open: TestRuntime[] = [];
  afterEach(async () => {
    for (const env of open.splice(0)) await env.close();
  });

  it("reach the executor on every path, and are never stored nor logged", async () => {
    const lines: string[] = [];
    const log = (level: string) => (fields: unknown, message?: string) => void lines.push(JSON.stringify({ level, fields, message }));
    const env = await createTestRuntime({ store: target.fresh(), logger: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") } });
    open.push(env);
    const seen: unknown[] = [];
    env.rt.registerExecutor(
      newExecutor("t.use", async (step) => {
        seen.push((step.rawInput() as { token: unknown }).token);
        step.result({ ok: true });
      }),
    );
    env.rt.registerExecutor(
      newExecutor("t.flaky_use", async (step) => {
        seen.push((step.rawInput() as { token: unknown }).token);
        if (step.attempt < 2) throw Object.assign(new Error("try again"), { name: "WorkflowError", code: "flaky", retryable: true });
        step.result({ ok: true });
      }),
    );
    env.rt.registerPackage(
      parseWorkflow(definition, { config: { base: "https://api" }, secrets: (key) => (key === "api.token" ? SECRET : undefined) }),
    );
    const { id } = await env.rt.startRun("t.secret_paths", {});
    await env.runUntilSettled();
    const run = await env.rt.workflow(id);
    expect(run?.status).toBe("succeeded");
    expect(await env.rt.output(id)).toEqual({ seen: 3 });
    // direct, three items, and two attempts of flaky: each got the secret itself.
    expect(seen).toEqual(Array.from({ length: 6 }, () => SECRET));

    // Every step as stored, with its input (rt.step), its result and the run's events.
    const steps = await Promise.all((await env.rt.steps(id)).map((s) => env.rt.step(id, s.id)));
    expect(steps.map((s) => s?.id)).toContain("each[2]");
    const results = await Promise.all(steps.map((s) => env.rt.result(id, s?.id as string)));
    const stored = JSON.stringify([run, steps, results, await env.rt.events(id)]);
    expect(stored).toContain('{"$secret":"api.token"}');
    expect(stored).toContain("https://api");
    expect(stored).not.toContain(SECRET);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toContain(SECRET);
  });
});

/**
 * Helpers for declarative tests: a test runtime (trellis/testing) per test on a
 * fresh store, YAML definitions registered from text, and executors that
 * record what they saw.
 */
import { afterEach } from "vitest";
import { z } from "zod";
import { type Executor, newExecutor, newTypedExecutor, permanent, type Runtime, type WorkflowRun } from "../../src/index.js";
import { parseWorkflow, type ParseOptions } from "../../src/declarative/index.js";
import { createTestRuntime, type TestRuntime } from "../../src/testing/index.js";
import type { StoreTarget } from "../support/stores.js";

export interface Harness {
  rt: Runtime;
  /** The test runtime around `rt`: its fake clock, runUntilIdle, signal. */
  env: TestRuntime;
  /** Inputs each action kind was called with, in call order. */
  calls: Map<string, unknown[]>;
  register(yaml: string, opts?: ParseOptions): string;
  /** Runs the run's work, skipping time to each due time, until nothing is due; returns the run. */
  finish(runId: string): Promise<WorkflowRun>;
}

/** Executors the tests' definitions use. */
export function testExecutors(calls: Map<string, unknown[]>): Executor[] {
  const record = (kind: string, input: unknown) => calls.set(kind, [...(calls.get(kind) ?? []), input]);
  return [
    newExecutor("t.echo", async (step) => {
      record("t.echo", step.rawInput());
      step.result(step.rawInput());
    }),
    newExecutor("t.fail", async (step) => {
      record("t.fail", step.rawInput());
      const { code = "boom", retry = false } = (step.rawInput() ?? {}) as { code?: string; retry?: boolean };
      throw retry ? Object.assign(new Error(`failed with ${code}`), {}) : permanent(code, new Error(`failed with ${code}`));
    }),
    newExecutor("t.flaky", async (step) => {
      record("t.flaky", step.attempt);
      const { succeedOn = 3, code = "flaky" } = (step.rawInput() ?? {}) as { succeedOn?: number; code?: string };
      if (step.attempt < succeedOn) throw Object.assign(new Error(`attempt ${step.attempt}`), { name: "WorkflowError", code, retryable: true });
      step.result({ attempt: step.attempt });
    }),
    newExecutor("t.quiet", async (step) => {
      record("t.quiet", step.rawInput());
      step.result({ ok: true, url: (step.rawInput() as { url?: string }).url });
    }),
    newExecutor("t.hang", async (step) => {
      record("t.hang", step.rawInput());
      await new Promise<void>((resolve) => step.signal.addEventListener("abort", () => resolve(), { once: true }));
      throw new Error("aborted");
    }),
    newTypedExecutor("t.double", z.object({ n: z.number() }), async (step, input) => {
      record("t.double", input);
      step.result({ n: input.n * 2 });
    }),
  ];
}

/** A factory of harnesses on fresh stores of `target`; each is closed after its test. */
export function useHarness(target: StoreTarget): () => Promise<Harness> {
  const open: TestRuntime[] = [];
  afterEach(async () => {
    for (const env of open.splice(0)) await env.close();
  });
  return async () => {
    const calls = new Map<string, unknown[]>();
    const env = await createTestRuntime({ store: target.fresh() });
    open.push(env);
    const rt = env.rt;
    for (const e of testExecutors(calls)) rt.registerExecutor(e);
    return {
      rt,
      env,
      calls,
      register(yaml, opts) {
        const pkg = parseWorkflow(yaml, opts);
        rt.registerPackage(pkg);
        return pkg.name;
      },
      async finish(runId) {
        await env.runUntilSettled();
        return (await rt.workflow(runId)) as WorkflowRun;
      },
    };
  };
}

/** An approval: `approve` (a core.inquiry whose answer is { approved: boolean }) decides between `deploy` and `cancel`. */
export function approvalYaml(ref: string, prompt: string, extra = ""): string {
  return `
ref: ${ref}
version: "1"
tasks:
  - name: approve
    action: core.inquiry
    input:
      prompt: "${prompt}"
      schema:
        type: object
        properties:
          approved: { type: boolean, required: true }
    decision:
      - when: "{{ task.approve.result.approved }}"
        next: deploy
      - default: cancel
  - name: deploy
    action: t.echo
    input: { deploy: true }
  - name: cancel
    action: t.echo
    input: { deploy: false }
${extra}`;
}

/**
 * Declarative workflows on both stores: a sequence with templates and publish,
 * each transition kind, decisions, `when`, and the run's output.
 */
import { describe, expect, it } from "vitest";
import { stores } from "../support/stores.js";
import { useHarness } from "./support.js";

const sequence = `
ref: t.sequence
version: "1"
parameters:
  name: { type: string, required: true }
  times: { type: integer, default: 2 }
vars:
  greeting: "hello"
tasks:
  - name: first
    action: t.echo
    input:
      text: "{{ vars.greeting }} {{ parameters.name | upper }}"
      times: "{{ parameters.times }}"
    publish:
      - said: "{{ task.first.result.text }}"
    on_success: second
  - name: second
    action: t.double
    input:
      n: "{{ task.first.result.times * 10 }}"
output_map:
  said: "{{ vars.said }}"
  doubled: "{{ task.second.result.n }}"
  status: "{{ task.second.status }}"
output:
  type: object
  properties:
    said: { type: string, required: true }
    doubled: { type: number }
`;

describe.each(stores("dbasic"))("declarative basics on $name", (target) => {
  const harness = useHarness(target);

  it("runs a sequence: templates keep their types, publish feeds vars, output_map is the run's output", async () => {
    const h = await harness();
    h.register(sequence);
    const { id } = await h.rt.startRun("t.sequence", { name: "ada" });
    const run = await h.finish(id);
    if (run.status !== "succeeded") console.log(JSON.stringify((await h.rt.steps(id)).map((s) => [s.id, s.status, s.lastError?.message])));
    expect(run.status).toBe("succeeded");
    expect(h.calls.get("t.echo")).toEqual([{ text: "hello ADA", times: 2 }]);
    expect(h.calls.get("t.double")).toEqual([{ n: 20 }]);
    expect(await h.rt.output(id)).toEqual({ said: "hello ADA", doubled: 40, status: "succeeded" });
  });

  it("rejects run input that does not match the parameters, naming the field", async () => {
    const h = await harness();
    h.register(sequence);
    const error = await h.rt.startRun("t.sequence", { times: 3 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "invalid_input" });
    expect(String((error as Error).message)).toContain("name");
  });
});

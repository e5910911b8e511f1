/**
 * `trellis run`'s output: transition lines for task steps only, and on a
 * terminal a status line of tasks by state, rewritten in place.
 */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { RunProgress } from "../../src/cli/commands/run-progress.js";
import type { RunEvent } from "../../src/types.js";

function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  let text = "";
  const out = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return Object.assign(out, { isTTY, text: () => text });
}

const at = new Date(1_000);
const event = (type: RunEvent["type"], stepId: string, extra: Partial<RunEvent> = {}): RunEvent => ({ seq: 1, runId: "r", at, type, stepId, ...extra });

describe("RunProgress", () => {
  it("prints a line per task transition, none for the run's routing steps", () => {
    const out = sink(false);
    const p = new RunProgress(out, 0);
    p.event(event("step_claimed", "build"));
    p.event(event("step_succeeded", "build.route"));
    p.event(event("step_succeeded", "~definition"));
    p.event(event("step_failed", "each[3]", { error: { code: "nope", message: "no", retryable: false, occurredAt: at } }));
    p.done();
    expect(out.text()).toBe("  1000 ms  build  started\n  1000 ms  each[3]  failed (nope: no)\n");
  });

  it("on a terminal, keeps a status line of tasks by state under the lines", () => {
    const out = sink(true);
    const p = new RunProgress(out, 0);
    p.event(event("step_claimed", "a"));
    p.event(event("step_claimed", "b"));
    p.event(event("step_succeeded", "a"));
    p.done();
    expect(out.text()).toBe(
      "\r\x1b[K  1000 ms  a  started\n  tasks: running 1" +
        "\r\x1b[K  1000 ms  b  started\n  tasks: running 2" +
        "\r\x1b[K  1000 ms  a  succeeded\n  tasks: running 1 · succeeded 1" +
        "\r\x1b[K",
    );
  });
});

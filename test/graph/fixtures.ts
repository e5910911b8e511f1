/** Graph models the renderer tests draw: an ordinary run, and one whose every string is hostile. */
import type { GraphModel } from "../../src/index.js";

/** What a user can put in a step id, a label, a detail line or an edge label. */
export const HOSTILE = `<script>alert("x")</script> & 'q' "d" \\N\n]] --> x; }{ |pipe| #35; %%`;

export const runModel: GraphModel = {
  title: "shop · order-17 · running",
  nodes: [
    { id: "fetch", label: "fetch", shape: "task", status: "succeeded", detail: ["shop/fetch", "attempt 1/3", "120 ms"] },
    { id: "fetch/shop/item", label: "shop/item ×30", shape: "collapsed", status: "failed", detail: ["fan-out fetch/shop/item"], counts: { succeeded: 29, failed: 1 } },
    { id: "join", label: "join", shape: "task", status: "succeeded", detail: ["shop/join", "attempt 1/3"] },
    { id: "charge", label: "charge", shape: "task", status: "failed", detail: ["shop/charge", "attempt 3/3", "queue payments", "error card_declined"] },
    { id: "refund", label: "refund", shape: "task", status: "running", detail: ["shop/refund", "attempt 1/3"] },
    { id: "approval", label: "approval", shape: "signal", status: "waiting", detail: ["trellis/signal", "waits for signal:approve"] },
    { id: "child", label: "child", shape: "subworkflow", status: "pending", detail: ["trellis/child"] },
    { id: "nap", label: "nap", shape: "timer", status: "skipped" },
  ],
  edges: [
    { from: "fetch", to: "fetch/shop/item", kind: "emitted" },
    { from: "fetch/shop/item", to: "join", kind: "on_complete" },
    { from: "charge", to: "refund", kind: "on_failure" },
    { from: "fetch", to: "charge", kind: "required" },
    { from: "charge", to: "nap", kind: "required" },
  ],
};

export const groupedDefinition: GraphModel = {
  title: "definition",
  nodes: [
    { id: "a", label: "a", shape: "task" },
    { id: "b", label: "b", shape: "decision", group: "par" },
    { id: "c", label: "c", shape: "inquiry", group: "inner" },
    { id: "d", label: "d", shape: "wait" },
  ],
  edges: [
    { from: "a", to: "b", kind: "success" },
    { from: "b", to: "c", kind: "decision", label: "amount > 100" },
    { from: "c", to: "d", kind: "timeout" },
    { from: "b", to: "d", kind: "failure" },
  ],
  groups: [
    { id: "par", label: "parallel", kind: "parallel" },
    { id: "inner", label: "each item", kind: "iteration", parent: "par" },
  ],
};

export const hostileModel: GraphModel = {
  title: HOSTILE,
  nodes: [
    { id: HOSTILE, label: HOSTILE, shape: "task", status: "failed", detail: [HOSTILE, "code \u0007bell \u202Eevil \uD800lone"] },
    { id: "plain", label: "plain", shape: "decision", status: "succeeded", group: HOSTILE },
  ],
  edges: [{ from: HOSTILE, to: "plain", kind: "decision", label: HOSTILE }],
  groups: [{ id: HOSTILE, label: HOSTILE, kind: "fanout" }],
};

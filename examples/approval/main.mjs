// An approval gate: an expense run waits, holding no worker, for a manager's
// decision that arrives over HTTP. If none comes in time, it escalates.
//
//   npm run example:approval                  (builds, then runs this file)
//   node examples/approval/main.mjs 2000      (another approval timeout, ms)
//
// The HTTP handler only calls rt.signal(): the signal is stored durably, so a
// decision sent while no worker runs (or before the run even reaches the gate)
// is not lost. The Idempotency-Key header makes a retried request harmless.
import http from "node:http";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { newExecutor, newPackage, newRuntime, onFailure, permanent, requireSteps, sqliteStore } from "../../dist/index.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const timeout = Number(process.argv[2] ?? 1500);
if (!Number.isInteger(timeout) || timeout < 1) throw new Error(`not a timeout in ms: ${process.argv[2]}`);

const rt = await newRuntime({ store: sqliteStore(path.join(repoRoot, "var", "approval.db")) });

rt.registerExecutor(
  newExecutor("expense/record", async (step) => {
    const { amount, requester } = step.input();
    step.result({ recorded: `${requester} asks for ${amount} EUR` });
  }),
);
rt.registerExecutor(
  newExecutor("expense/pay", async (step) => {
    const decision = await step.dependencyData("approval");
    if (!decision.approved) throw permanent("rejected", new Error(`rejected by ${decision.by}`));
    step.result({ paid: true, approvedBy: decision.by });
  }),
);
rt.registerExecutor(
  newExecutor("expense/escalate", async (step) => {
    const { error } = await step.dependencyResult("approval");
    step.result({ escalatedTo: "finance-lead", because: error.code });
  }),
);

rt.registerPackage(
  newPackage("expense")
    .entrypoint((run, input) => {
      const recorded = run.step("record", input, { kind: "expense/record" });
      const approval = run.waitForSignal("approval", "decision", { timeout, dependsOn: requireSteps(recorded) });
      run.output(run.step("pay", null, { kind: "expense/pay", dependsOn: requireSteps(approval) }));
      // The timeout branch: runs only if the approval step fails (no decision in time).
      run.step("escalate", null, { kind: "expense/escalate", dependsOn: onFailure(approval) });
    })
    .build(),
);

// POST /expenses/:runId/decision {"approved": true, "by": "..."} -> 202, 404 unknown run, 409 finished run.
const server = http.createServer(async (req, res) => {
  const match = /^\/expenses\/([^/]+)\/decision$/.exec(req.url ?? "");
  if (req.method !== "POST" || !match) return void res.writeHead(404).end();
  let body = "";
  for await (const chunk of req) body += chunk;
  try {
    const decision = JSON.parse(body);
    const key = req.headers["idempotency-key"];
    const { delivered } = await rt.signal(decodeURIComponent(match[1]), "decision", decision, key ? { id: String(key) } : {});
    res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ delivered }));
  } catch (err) {
    const status = { not_found: 404, invalid_state: 409, invalid_input: 400 }[err.code] ?? (err instanceof SyntaxError ? 400 : 500);
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ code: err.code ?? "bad_json", message: err.message }));
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${server.address().port}`;

const ac = new AbortController();
const workers = rt.startWorkers({ signal: ac.signal });

const approved = await rt.startRun("expense", { amount: 120, requester: "ada" }, { runId: `expense-${randomUUID()}` });
const ignored = await rt.startRun("expense", { amount: 9000, requester: "bob" }, { runId: `expense-${randomUUID()}` });

// A manager approves the first expense through the API, twice (a client retry):
// one decision counts, the retry is answered "delivered: false".
for (let i = 0; i < 2; i++) {
  const res = await fetch(`${base}/expenses/${approved.id}/decision`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": "decision-1" },
    body: JSON.stringify({ approved: true, by: "grace" }),
  });
  console.log(`POST decision for ${approved.id}: ${res.status} ${await res.text()}`);
}

const finished = async (id) => {
  for (;;) {
    const run = await rt.workflow(id);
    if (["succeeded", "failed", "canceled"].includes(run.status)) return run;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
for (const handle of [approved, ignored]) {
  const run = await finished(handle.id);
  const steps = Object.fromEntries((await rt.steps(handle.id)).map((s) => [s.id, s.status]));
  console.log(`\n${handle.id}: ${run.status}`);
  console.log(`  steps: ${JSON.stringify(steps)}`);
  if (run.status === "succeeded" && steps.pay === "succeeded") console.log("  output:", await rt.output(handle.id));
  if (steps.escalate === "succeeded") console.log("  escalation:", (await rt.result(handle.id, "escalate")).data);
  console.log("  events:", (await rt.events(handle.id)).map((e) => (e.stepId ? `${e.type}(${e.stepId})` : e.type)).join(" → "));
}

// A decision for a finished run is refused with 409.
const late = await fetch(`${base}/expenses/${ignored.id}/decision`, { method: "POST", body: JSON.stringify({ approved: true, by: "late" }) });
console.log(`\nlate decision for ${ignored.id}: ${late.status}`);

server.close();
ac.abort();
await workers;
await rt.close();

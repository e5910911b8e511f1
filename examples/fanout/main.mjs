// Fan-out and join in one run: a parent step emits 100 children and one join
// step that requires all of them; the join sums the children's results.
//
//   npm run example:fanout             (builds, then runs this file)
//   node examples/fanout/main.mjs 500  (another number of children)
//
// The children and the join are written in the same transaction as the parent's
// success, so either all of them exist or none does.
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { newExecutor, newPackage, newRuntime, requireSteps, sqliteStore } from "../../dist/index.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const dbFile = path.join(repoRoot, "var", "fanout.db");
const children = Number(process.argv[2] ?? 100);
if (!Number.isInteger(children) || children < 1) throw new Error(`not a number of children: ${process.argv[2]}`);

// Children run in the "default" queue, limited only by maxWorkers (per process).
const rt = await newRuntime({ store: sqliteStore(dbFile), maxWorkers: 8 });

rt.registerExecutor(
  newExecutor("fanout/parent", async (step) => {
    const { count } = step.input();
    const ids = [];
    for (let i = 1; i <= count; i++) {
      ids.push(step.emit(`child-${String(i).padStart(3, "0")}`, { n: i }, { kind: "fanout/child" }));
    }
    step.emit("join", null, { kind: "fanout/join", dependsOn: requireSteps(...ids) });
    step.result({ emitted: ids.length });
  }),
);
rt.registerExecutor(
  newExecutor("fanout/child", async (step) => {
    const { n } = step.input();
    step.result(n);
  }),
);
rt.registerExecutor(
  newExecutor("fanout/join", async (step) => {
    let sum = 0;
    for (const dependency of step.step.dependsOn) sum += await step.dependencyData(dependency.stepId);
    step.result({ sum, children: step.step.dependsOn.length });
  }),
);

rt.registerPackage(
  newPackage("fanout")
    .entrypoint((run, input) => {
      run.step("parent", input, { kind: "fanout/parent" });
    })
    .build(),
);

const started = performance.now();
const handle = await rt.startRun("fanout", { count: children }, { runId: `fanout-${randomUUID()}` });
const ac = new AbortController();
const workers = rt.startWorkers({ signal: ac.signal });

const run = await rt.waitForRun(handle.id, { timeout: 60_000 });
const elapsed = performance.now() - started;
ac.abort();
await workers;

const steps = await rt.steps(handle.id);
const join = await rt.result(handle.id, "join");
const expected = (children * (children + 1)) / 2;
console.log(`run ${run.id}: ${run.status}`);
console.log(`steps: ${steps.length} (1 parent, ${children} children, 1 join), ${steps.filter((s) => s.status === "succeeded").length} succeeded`);
console.log(`sum of the children's results: ${join?.data?.sum} (expected ${expected})`);
console.log(`time from startRun to the run's end: ${elapsed.toFixed(0)} ms (${((steps.length / elapsed) * 1000).toFixed(0)} steps/s)`);

await rt.close();
process.exitCode = run.status === "succeeded" && join?.data?.sum === expected ? 0 : 1;


// `npm run bench:declarative`: a with_items fan-out of N items written in YAML,
// against the same fan-out built in code (one step emits N children and a join
// that requires them all), on SQLite. Rounds interleave the two; the figure to
// read is the ratio of the medians (declarative time / code time; the issue asks
// for at most 1.5).
//
//   npm run bench:declarative -- --n 10000 --rounds 3
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { newExecutor, newPackage, newRuntime, requireSteps, sqliteStore } from "../dist/index.js";
import { parseWorkflow } from "../dist/declarative.js";

const { values: opts } = parseArgs({ options: { n: { type: "string", default: "10000" }, rounds: { type: "string", default: "3" }, concurrency: { type: "string", default: "16" } } });
const n = Number(opts.n);
const rounds = Number(opts.rounds);
const maxWorkers = Number(opts.concurrency);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-bench-decl-"));

const yaml = `
ref: bench.items
version: "1"
parameters:
  values: { type: array }
tasks:
  - name: each
    action: bench.item
    with_items: "{{ parameters.values }}"
    input: { value: "{{ item }}" }
`;

const code = newPackage("bench.code")
  .entrypoint((run, input) => void run.step("parent", input, { kind: "bench.parent" }))
  .build();

async function once(kind, round) {
  const rt = await newRuntime({ store: sqliteStore(path.join(dir, `${kind}-${round}.db`)), maxWorkers });
  rt.registerExecutor(newExecutor("bench.item", async (step) => step.result({ value: step.input().value })));
  rt.registerExecutor(
    newExecutor("bench.parent", async (step) => {
      const ids = step.input().values.map((value, i) => step.emit(`c${i}`, { value }, { kind: "bench.item" }));
      step.emit("join", {}, { kind: "bench.join", dependsOn: requireSteps(...ids) });
    }),
  );
  rt.registerExecutor(newExecutor("bench.join", async (step) => step.result({ n: step.step.dependsOn.length })));
  rt.registerPackage(kind === "yaml" ? parseWorkflow(yaml) : code);
  const values = Array.from({ length: n }, (_, i) => i);
  const started = performance.now();
  const { id } = await rt.startRun(kind === "yaml" ? "bench.items" : "bench.code", { values });
  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal });
  const run = await rt.waitForRun(id, { timeout: 300_000 });
  const ms = performance.now() - started;
  ac.abort();
  await workers;
  await rt.close();
  if (run.status !== "succeeded") throw new Error(`${kind} run ${run.status}`);
  return ms;
}

const times = { yaml: [], code: [] };
for (let r = 0; r < rounds; r++) {
  for (const kind of r % 2 ? ["yaml", "code"] : ["code", "yaml"]) {
    const ms = await once(kind, r);
    times[kind].push(ms);
    console.log(`round ${r + 1} ${kind.padEnd(4)} ${n} items in ${ms.toFixed(0)} ms`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratio = median(times.yaml) / median(times.code);
console.log(`median: yaml ${median(times.yaml).toFixed(0)} ms, code ${median(times.code).toFixed(0)} ms; ratio ${ratio.toFixed(2)}x (target <= 1.5x)`);
fs.rmSync(dir, { recursive: true, force: true });

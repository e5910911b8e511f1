// `npm run bench:compare -- --base DIR`: the same drain, in one invocation, on
// two builds of trellis: this checkout's dist/ ("head") and another built
// package ("base", e.g. a worktree of main after `npm run build`). Rounds
// interleave the two builds, so that the machine's drift hits both alike; the
// figure to read is the ratio of the medians, not the absolute rates.
//
// Each cell: a fresh store (a SQLite file in a temp directory, or a new Postgres
// schema), `--n` runs started with one startRuns call, then one process's
// workers (maxWorkers `--concurrency`) drain them; the time runs from
// startWorkers until the workers have stopped with every outcome written.
// With `--warm K` the cell is an application's steady state instead: the
// workers run from the start, K single runs go through one after the other on
// the empty store (its connections plan their statements on nearly empty
// tables, as an application's first work does), then the n runs are started at
// once and timed from that start to the last executor.
//   queue  one-step runs
//   dag3   A -> B -> C, B and C read their dependency's result
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { dropSchema } from "./pg-client.mjs";

const { values: opts } = parseArgs({
  options: {
    base: { type: "string" },
    n: { type: "string", default: "5000" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "16" },
    warm: { type: "string", default: "0" },
    backend: { type: "string", default: "both" },
    workload: { type: "string", multiple: true },
    "pg-url": { type: "string", default: process.env.TRELLIS_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
    help: { type: "boolean" },
  },
});
if (opts.help || !opts.base) {
  console.log(`usage: node bench/compare.mjs --base DIR [--n 5000] [--rounds 3] [--concurrency 16] [--warm K]
       [--backend sqlite|postgres|both] [--workload queue|dag3 ...] [--pg-url URL]
DIR is a checkout whose dist/ is built (or the dist/ folder itself).`);
  process.exit(opts.help ? 0 : 2);
}
const n = Number(opts.n);
const rounds = Number(opts.rounds);
const concurrency = Number(opts.concurrency);
const warm = Number(opts.warm);
const backends = opts.backend === "both" ? ["sqlite", "postgres"] : [opts.backend];
const workloads = opts.workload ?? ["queue", "dag3"];

const entry = (dir) => {
  const candidates = [path.join(dir, "dist", "index.js"), path.join(dir, "index.js")];
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found) throw new Error(`no built trellis in ${dir} (looked for ${candidates.join(", ")})`);
  return pathToFileURL(path.resolve(found)).href;
};
/** A build's API: since trellis/postgres exists, postgresStore lives there; older builds export it from the root. */
async function load(dir) {
  const root = await import(entry(dir));
  if (root.postgresStore) return root;
  const postgres = await import(entry(dir).replace(/index\.js$/, "postgres.js"));
  return { ...root, postgresStore: postgres.postgresStore };
}
const builds = [
  { name: "base", lib: await load(opts.base) },
  { name: "head", lib: await load(process.cwd()) },
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-compare-"));
let seq = 0;

/** Drains one fresh store with one build; returns steps per second. */
async function cell(lib, backend, workload) {
  const schema = `trellis_compare_${process.pid}_${++seq}`;
  const store = backend === "sqlite" ? lib.sqliteStore(path.join(tmp, `s${seq}.db`)) : lib.postgresStore({ connectionString: opts["pg-url"], schema });
  const rt = await lib.newRuntime({ store, maxWorkers: concurrency, pollInterval: 100 });
  let done = 0;
  const runDone = () => void done++;
  rt.registerExecutor(lib.newExecutor("cmp/noop", async () => runDone()));
  rt.registerExecutor(lib.newExecutor("cmp/a", async (step) => step.result({ a: step.input().i })));
  rt.registerExecutor(lib.newExecutor("cmp/b", async (step) => step.result({ b: (await step.dependencyData("A")).a + 1 })));
  rt.registerExecutor(
    lib.newExecutor("cmp/c", async (step) => {
      if ((await step.dependencyData("B")).b !== step.input().i + 1) throw new Error("bad data");
      runDone();
    }),
  );
  rt.registerPackage(lib.newPackage("queue").entrypoint((run, input) => void run.step("job", input, { kind: "cmp/noop" })).build());
  rt.registerPackage(
    lib
      .newPackage("dag3")
      .entrypoint((run, input) => {
        const a = run.step("A", input, { kind: "cmp/a" });
        const b = run.step("B", input, { kind: "cmp/b", dependsOn: lib.requireSteps(a) });
        run.step("C", input, { kind: "cmp/c", dependsOn: lib.requireSteps(b) });
      })
      .build(),
  );
  const until = async (count) => {
    while (done < count) await new Promise((resolve) => setTimeout(resolve, 1));
  };
  try {
    if (warm > 0) {
      const ac = new AbortController();
      const workers = rt.startWorkers({ signal: ac.signal });
      for (let i = 0; i < warm; i++) {
        await rt.startRun(workload, { i });
        await until(i + 1);
      }
      done = 0;
      const began = performance.now();
      await rt.startRuns(workload, Array.from({ length: n }, (_, i) => ({ input: { i } })));
      await until(n);
      const seconds = (performance.now() - began) / 1000;
      ac.abort();
      await workers;
      return (n * (workload === "dag3" ? 3 : 1)) / seconds;
    }
    await rt.startRuns(workload, Array.from({ length: n }, (_, i) => ({ input: { i } })));
    const ac = new AbortController();
    const began = performance.now();
    const workers = rt.startWorkers({ signal: ac.signal });
    while (done < n) await new Promise((resolve) => setTimeout(resolve, 2));
    ac.abort();
    await workers;
    const seconds = (performance.now() - began) / 1000;
    return (n * (workload === "dag3" ? 3 : 1)) / seconds;
  } finally {
    await rt.close();
    if (backend === "postgres") await dropSchema(opts["pg-url"], schema);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
try {
  for (const backend of backends) {
    for (const workload of workloads) {
      const rates = { base: [], head: [] };
      for (let r = 0; r < rounds; r++) {
        // Alternate which build goes first, so neither always runs on a warmer machine.
        const order = r % 2 === 0 ? builds : [...builds].reverse();
        for (const b of order) rates[b.name].push(await cell(b.lib, backend, workload));
      }
      const base = median(rates.base);
      const head = median(rates.head);
      rows.push({ backend, workload, base, head, ratio: head / base });
      console.error(`${backend} ${workload}: base ${rates.base.map(Math.round).join(", ")} | head ${rates.head.map(Math.round).join(", ")} steps/s`);
    }
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

console.log(`\nn ${n}, concurrency ${concurrency}${warm ? `, after ${warm} single runs (timed from the start)` : ""}, median of ${rounds} interleaved rounds (steps/s)\n`);
console.log("| backend | workload | base | head | head / base |");
console.log("| --- | --- | ---: | ---: | ---: |");
for (const r of rows) console.log(`| ${r.backend} | ${r.workload} | ${Math.round(r.base)} | ${Math.round(r.head)} | ${r.ratio.toFixed(2)}x |`);

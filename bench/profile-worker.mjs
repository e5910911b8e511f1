// The measured process of `npm run bench:profile` (bench/profile.mjs): the queue
// workload of the peer harness (n one-step runs started with rt.startRuns, then
// drained by startWorkers, maxWorkers 16) on one store. The V8 CPU profiler
// (node:inspector) samples exactly the timed window, from the first start to the
// last handler, and the profile is written to `profilePath`. Prints one JSON
// line: the start's and the whole drain's times and the process's CPU time.
//
// Config (argv[2], JSON): { store: "sqlite", path } | { store: "postgres", url }, n, profilePath, resetStatements
// With resetStatements (Postgres), pg_stat_statements is reset once the store is
// open and its workers are listening, so the coordinator reads only the workload.
import fs from "node:fs";
import { Session } from "node:inspector/promises";
import { newExecutor, newPackage, newRuntime, sqliteStore } from "../dist/index.js";
import { postgresStore } from "../dist/postgres.js";
import { withPg } from "./pg-client.mjs";

const config = JSON.parse(process.argv[2]);
const store = config.store === "sqlite" ? sqliteStore({ path: config.path }) : postgresStore({ connectionString: config.url });
let opened;
const rt = await newRuntime({ store: { name: store.name, open: async () => (opened = await store.open()) }, maxWorkers: 16, pollInterval: 100 });

let handled = 0;
let lastAt = 0;
let finish;
const finished = new Promise((resolve) => (finish = resolve));
rt.registerExecutor(
  newExecutor("bench/noop", async () => {
    if (++handled === config.n) finish((lastAt = performance.now()));
  }),
);
rt.registerPackage(
  newPackage("job")
    .entrypoint((run, input) => {
      run.step("job", input, { kind: "bench/noop" });
    })
    .build(),
);

const ac = new AbortController();
const workers = rt.startWorkers({ signal: ac.signal });
await opened.listening?.();
if (config.resetStatements) {
  await withPg(config.url, (c) => c.query("SELECT pg_stat_statements_reset()"));
}
const profiler = new Session();
profiler.connect();
await profiler.post("Profiler.enable");
await profiler.post("Profiler.setSamplingInterval", { interval: 200 });
await profiler.post("Profiler.start");
const cpuBefore = process.cpuUsage();
const t0 = performance.now();
for (let from = 0; from < config.n; from += 1000) {
  await rt.startRuns("job", Array.from({ length: Math.min(1000, config.n - from) }, (_, i) => ({ input: { i: from + i } })));
}
const started = performance.now();
await finished;
const cpu = process.cpuUsage(cpuBefore);
const { profile } = await profiler.post("Profiler.stop");
fs.writeFileSync(config.profilePath, JSON.stringify(profile));
profiler.disconnect();
ac.abort();
await workers;
await rt.close();
console.log(
  JSON.stringify({
    n: config.n,
    startMs: started - t0,
    totalMs: lastAt - t0,
    jobsPerSecond: config.n / ((lastAt - t0) / 1000),
    cpuMs: (cpu.user + cpu.system) / 1000,
  }),
);

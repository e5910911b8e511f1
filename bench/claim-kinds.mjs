// `node bench/claim-kinds.mjs [--n 10000] [--backend sqlite|postgres|both] [--pg-url URL]`:
// the cost of the kind filter on the claim path (ClaimRequest.kinds), on the
// built package (dist/). Each cell: a fresh store holding `--n` ready one-step
// runs of kind "k", drained by claims of 64 steps in a timed loop (nothing runs
// them), with
//   any       no kinds named (as before the filter existed)
//   kinds     the kinds of a worker with 24 executors, "k" among them
//   behind    the same, with `--n` more ready steps of a kind this worker
//             lacks ahead of them in claim order (older): the worst case, where
//             every claim looks past steps left for another version's workers
// The figure to read is each cell's ratio to "any" in the same invocation.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { newPackage, newRuntime, sqliteStore } from "../dist/index.js";
import { postgresStore } from "../dist/postgres.js";
import { dropSchema } from "./pg-client.mjs";

const { values: opts } = parseArgs({
  options: {
    n: { type: "string", default: "10000" },
    backend: { type: "string", default: "both" },
    "pg-url": { type: "string", default: process.env.TRELLIS_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
    help: { type: "boolean" },
  },
});
if (opts.help) {
  console.log("usage: node bench/claim-kinds.mjs [--n 10000] [--backend sqlite|postgres|both] [--pg-url URL]");
  process.exit(0);
}
const n = Number(opts.n);
const backends = opts.backend === "both" ? ["sqlite", "postgres"] : [opts.backend];
const KINDS = [...Array.from({ length: 23 }, (_, i) => `app/kind-${i}`), "k", "trellis/child", "trellis/signal", "trellis/sleep"].sort();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-claim-kinds-"));
let cell = 0;

function freshStore(backend) {
  cell++;
  if (backend === "sqlite") return sqliteStore(path.join(dir, `cell-${cell}.db`));
  return postgresStore({ connectionString: opts["pg-url"], schema: `bench_claim_kinds_${process.pid}_${cell}` });
}

async function measure(backend, mode) {
  const config = freshStore(backend);
  const rt = await newRuntime({ store: config });
  rt.registerPackage(newPackage("one").entrypoint((run, kind) => void run.step("s", null, { kind })).build());
  const load = async (kind) => {
    for (let i = 0; i < n; i += 1000) await rt.startRuns("one", Array.from({ length: Math.min(1000, n - i) }, () => ({ input: kind })));
  };
  if (mode === "behind") await load("other");
  await load("k");
  const store = await config.open();
  const request = { workerId: "bench", limit: 64, now: Date.now(), leaseDuration: 600_000, policyFor: () => ({ maxWorkers: Infinity }) };
  if (mode !== "any") request.kinds = KINDS;
  let claimed = 0;
  let claims = 0;
  const began = performance.now();
  while (claimed < n) {
    const { steps } = await store.claim(request);
    if (steps.length === 0) break;
    claimed += steps.filter((c) => c.step.kind === "k").length;
    claims++;
  }
  const ms = performance.now() - began;
  await store.close();
  await rt.close();
  if (backend === "postgres") {
    await dropSchema(opts["pg-url"], `bench_claim_kinds_${process.pid}_${cell}`);
  }
  return { claims, stepsPerSecond: Math.round((claimed / ms) * 1000), msPerClaim: ms / claims };
}

console.log(`n ${n}, claims of 64, ${KINDS.length} kinds named\n`);
console.log("| backend | claim | steps/s | ms per claim | vs any |");
console.log("| --- | --- | ---: | ---: | ---: |");
try {
  for (const backend of backends) {
    const results = {};
    for (const mode of ["any", "kinds", "behind", "any", "kinds", "behind"]) {
      const r = await measure(backend, mode);
      // The better of two interleaved rounds per mode.
      if (!results[mode] || r.stepsPerSecond > results[mode].stepsPerSecond) results[mode] = r;
    }
    for (const mode of ["any", "kinds", "behind"]) {
      const r = results[mode];
      console.log(`| ${backend} | ${mode} | ${r.stepsPerSecond} | ${r.msPerClaim.toFixed(2)} | ${(r.stepsPerSecond / results.any.stepsPerSecond).toFixed(2)}x |`);
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

// Part 4 of `npm run bench:scale` (bench/scale.mjs): how close a workflow-like
// drain comes to this machine's ceiling for a fenced, durable step queue.
//
// ../shared/LIMITS.md measured the ceiling with the least work such a queue can
// do: batched claims and completions, lease-token fencing, no event log, no
// graph. Its "workflow-like" case (each completion enqueues the run's next step)
// reached about 117 000 steps/s on SQLite and 61 000 on Postgres; issue 22 sets
// the goal at half of that (55 000 and 30 000). Here trellis does the same shape
// with everything it guarantees: runs of ten steps s1 -> ... -> s10 (each
// completion readies the next), the event log of every transition, the run's
// finish. Timed from the first rt.startRuns to the last step's handler, in one
// process (startWorkers), like the history part's drains.
import { CHAIN_LENGTH } from "./scale-worker.mjs";

/** steps/s of LIMITS.md's workflow-like ceiling, and issue 22's goal (within 2x of it). */
export const CEILINGS = {
  sqlite: { ceiling: 117_000, goal: 55_000 },
  postgres: { ceiling: 61_000, goal: 30_000 },
};

/**
 * Runs the ceiling drain `repeat` times per store (each on a fresh store, from
 * `withFreshStore`) and returns the results section. `drainInProcess(spec, runs,
 * batch, workload)` is the coordinator's timed drain (runs/s); `checkRuns(spec, n)`
 * verifies that every run succeeded.
 */
export async function ceilingPart({ stores, runs, batch, repeat, maxWorkers, withFreshStore, drainInProcess, checkRuns, log }) {
  const rows = [];
  for (const kind of stores) {
    const rates = [];
    for (let r = 0; r < repeat; r++) {
      log(`ceiling: ${kind}, ${runs.toLocaleString("en-US")} runs of ${CHAIN_LENGTH} chained steps, drain ${r + 1}`);
      const rate = await withFreshStore(kind, async (spec) => {
        const runsPerSecond = await drainInProcess(spec, runs, batch, "chain10");
        await checkRuns(spec, runs);
        return runsPerSecond * CHAIN_LENGTH;
      });
      log(`  ${fmt(rate)} steps/s`);
      rates.push(rate);
    }
    const median = rates.sort((a, b) => a - b)[(rates.length - 1) >> 1];
    rows.push({ kind, rates, median, ...CEILINGS[kind] });
  }
  const section = [
    "## Against the machine's ceiling: a workflow-like drain",
    "",
    "| store | runs x steps | drains, steps/s | median steps/s | ceiling (LIMITS.md) | fraction of ceiling | goal (issue 22) | fraction of goal |",
    "|---|---:|---|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.kind} | ${runs.toLocaleString("en-US")} x ${CHAIN_LENGTH} | ${r.rates.map(fmt).join(", ")} | ${fmt(r.median)} | ` +
        `${fmt(r.ceiling)} | ${pct(r.median / r.ceiling)} | ${fmt(r.goal)} | ${pct(r.median / r.goal)} |`,
    ),
    "",
    `Each run is s1 -> s2 -> ... -> s${CHAIN_LENGTH} (requireSteps), empty executors; started with rt.startRuns in batches of ${batch}`,
    `by the process that runs the workers (startWorkers, maxWorkers ${maxWorkers}), timed from the first start to the last`,
    "step's handler, each drain on a fresh store. Every transition is fenced and logged, as in any run. The ceiling is",
    "LIMITS.md's workflow-like queue (batched claim and completion, fencing, no event log, no graph), measured on",
    "2026-11-22 on this kind of machine: compare the fraction, not the figures, across windows.",
  ].join("\n");
  log("\n" + section + "\n");
  return section;
}

const fmt = (x) => Math.round(x).toLocaleString("en-US");
const pct = (x) => `${(100 * x).toFixed(0)}%`;

// trellis on its PostgreSQL store, as a contender for the shared peer benchmark
// (shared/bench/run.mjs --self <this file>; see shared/bench/README.md and
// contenders/_template.mjs for the workload semantics this must match).
//
// The harness imports this file in a child process whose cwd is shared/bench,
// so everything is resolved relative to this file: the BUILT package
// (../../dist, run `npm run build` first) and its pg from the repo.
// The workloads themselves (and how they map onto trellis) are in
// trellis-common.mjs, shared with trellis-sqlite.mjs.
//
// Store: postgresStore on the fresh database the harness creates per workload
// (ctx.pgUrl), schema "trellis", trellis's default pool of 5 connections (one
// held for LISTEN); `--opt pgPoolSize=N` sets another. Workers are woken by
// startRun in this process and by LISTEN/NOTIFY; the LISTEN connection is up
// before the first enqueue (and before the latency probe's warm-up).
import { postgresStore } from '../../dist/postgres.js';
import { trellisContender } from './trellis-common.mjs';

export const name = 'trellis-postgres';
export const backend = 'postgres';
export { version } from './trellis-common.mjs';

const poolSizeOf = (ctx) => (ctx.options.pgPoolSize === undefined ? undefined : Number(ctx.options.pgPoolSize));

export const { settings, queue, dag3, fanout, latency } = trellisContender({
  store: (ctx) => {
    const poolSize = poolSizeOf(ctx);
    return postgresStore({ connectionString: ctx.pgUrl, ...(poolSize === undefined ? {} : { poolSize }) });
  },
  storeSettings: (ctx) => ({
    store: 'postgresStore (schema "trellis"; LISTEN/NOTIFY wake-ups, LISTEN up before timing starts)',
    poolSize: poolSizeOf(ctx) ?? '5 (trellis default: 4 for commands, 1 for LISTEN)',
  }),
  // As the Postgres peers without a bulk API: up to `concurrency` starts in flight.
  startsInFlight: (ctx) => ctx.concurrency,
});

// trellis on its SQLite store, as a contender for the shared peer benchmark
// (shared/bench/run.mjs --self <this file>; see shared/bench/README.md and
// contenders/_template.mjs for the workload semantics this must match).
//
// The harness imports this file in a child process whose cwd is shared/bench,
// so everything is resolved relative to this file: the BUILT package
// (../../dist, run `npm run build` first) and its better-sqlite3 from the repo.
// The workloads themselves (and how they map onto trellis) are in
// trellis-common.mjs, shared with trellis-postgres.mjs.
import { sqliteStore } from '../../dist/index.js';
import { trellisContender } from './trellis-common.mjs';

export const name = 'trellis-sqlite';
export const backend = 'sqlite';
export { version } from './trellis-common.mjs';

export const { settings, queue, dag3, fanout, latency } = trellisContender({
  // The harness's fresh file; new work in this process wakes the workers at once.
  store: (ctx) => sqliteStore(ctx.sqlitePath),
  storeSettings: () => ({ store: 'sqliteStore (WAL, synchronous=NORMAL, set by trellis)' }),
  // The store is synchronous (better-sqlite3), so keeping several startRun calls
  // in flight only interleaves them; one after another is as fast.
  startsInFlight: () => 1,
});

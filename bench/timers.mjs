#!/usr/bin/env node
// `npm run bench:timers`: how close to its due time a durable timer fires when
// nothing polls. Each run sleeps (run.sleep) and then runs one step; the
// worker's pollInterval is one minute, so only the worker's own due-time
// bookkeeping can wake it. Runs start one after another, so every timer comes
// due while the worker is idle. Lateness = when the sleep step was claimed
// again (its startedAt) minus its due time (wakeAt); the next step's start is
// reported too. Same process, real clock, on each store.
//
//   npm run bench:timers -- [--runs 20] [--sleep 200] [--store sqlite|postgres|both]
//
// Postgres: TRELLIS_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres),
// in a fresh schema that is dropped afterwards.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { newExecutor, newPackage, newRuntime, requireSteps, sqliteStore } from '../dist/index.js';
import { postgresStore } from '../dist/postgres.js';
import { dropSchema } from './pg-client.mjs';

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, sleep: { type: 'string', default: '200' }, store: { type: 'string', default: 'both' } },
});
const runs = Number(args.runs);
const sleepMs = Number(args.sleep);
const which = args.store;
const pgUrl = process.env.TRELLIS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return `p50 ${quantile(s, 0.5)} ms, p99 ${quantile(s, 0.99)} ms, max ${s.at(-1)} ms`;
};

async function measure(name, store, cleanup) {
  const rt = await newRuntime({ store, pollInterval: 60_000 });
  const afterStarts = new Map();
  rt.registerExecutor(newExecutor('bench/after', async (step) => void afterStarts.set(step.workflow.id, Date.now())));
  rt.registerPackage(
    newPackage('timer')
      .entrypoint((run) => {
        const nap = run.sleep('nap', sleepMs);
        run.step('after', null, { kind: 'bench/after', dependsOn: requireSteps(nap) });
      })
      .build(),
  );
  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal });
  const ids = [];
  for (let i = 0; i < runs; i++) {
    const { id } = await rt.startRun('timer', null);
    ids.push(id);
    // Timers due at different moments, each while the worker sleeps.
    await new Promise((resolve) => setTimeout(resolve, Math.round(sleepMs / 3)));
  }
  for (const id of ids) {
    while ((await rt.workflow(id))?.status !== 'succeeded') await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const fired = [];
  const next = [];
  for (const id of ids) {
    const nap = (await rt.steps(id)).find((s) => s.id === 'nap');
    fired.push(nap.startedAt.getTime() - nap.wakeAt.getTime());
    next.push(afterStarts.get(id) - nap.wakeAt.getTime());
  }
  ac.abort();
  await workers;
  await rt.close();
  await cleanup?.();
  console.log(`timers: store=${name} runs=${runs} sleep=${sleepMs}ms pollInterval=60000ms`);
  console.log(`  sleep step claimed after its due time: ${summary(fired)}`);
  console.log(`  next step started after the due time:  ${summary(next)}`);
}

if (which === 'sqlite' || which === 'both') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-timers-'));
  await measure('sqlite', sqliteStore(path.join(dir, 'timers.db')), () => fs.rmSync(dir, { recursive: true, force: true }));
}
if (which === 'postgres' || which === 'both') {
  const schema = `trellis_timers_${process.pid}`;
  await measure('postgres', postgresStore({ connectionString: pgUrl, schema }), () => dropSchema(pgUrl, schema));
}

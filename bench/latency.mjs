#!/usr/bin/env node
// `npm run bench:latency`: how soon an idle worker IN ANOTHER PROCESS starts a
// run that this process starts. The shared harness measures enqueue -> start
// with the workers in the enqueuing process (where trellis leases the first
// step in the start's own transaction); this measures the other case: a worker
// process that only learns of the new run from the store (LISTEN/NOTIFY on
// Postgres, the WAL file's change on SQLite), then claims it. Its poll interval
// is one minute, so a poll never helps.
//
//   npm run bench:latency -- [--samples 200] [--gap 100] [--store sqlite|postgres|both]
//
// Each sample: an idle gap, uniform in [0, 2 x gap) ms; t0; startRun; the worker
// process reports when the executor started (epoch ms with sub-ms precision,
// performance.timeOrigin + performance.now(), one clock for both processes).
// Five warm-up samples are not counted. Postgres: TRELLIS_BENCH_PG_URL (default
// postgres://postgres@127.0.0.1:5432/postgres), in a fresh schema dropped after.
//
// It also splits each sample where the time went: the startRun call, then, in the
// worker (its store wrapped, nothing else changed), the first wake-up the store
// delivered, the claim that took the run (from its call to its return), and the
// executor's start after it.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { newExecutor, newPackage, newRuntime, sqliteStore } from '../dist/index.js';
import { postgresStore } from '../dist/postgres.js';
import { dropSchema } from './pg-client.mjs';

const epochNow = () => performance.timeOrigin + performance.now();
const storeOf = (spec) => (spec.kind === 'sqlite' ? sqliteStore(spec.file) : postgresStore({ connectionString: spec.url, schema: spec.schema }));
const probePackage = () => newPackage('probe').entrypoint((run, input) => void run.step('probe', input, { kind: 'bench/probe' })).build();

// ---- the worker process ------------------------------------------------------
if (process.argv[2] === '--worker') {
  const spec = JSON.parse(process.argv[3]);
  // The first wake-up since the parent armed the sample, and when the claim that returned the probe began and ended.
  const seen = { wake: 0, claimCalled: 0, claimReturned: 0 };
  const rt = await newRuntime({ store: timed(storeOf(spec), seen), pollInterval: 60_000 });
  rt.registerExecutor(
    newExecutor('bench/probe', async (step) => void process.send({ started: step.input().id, at: epochNow(), ...seen })),
  );
  rt.registerPackage(probePackage());
  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal });
  process.on('message', async (m) => {
    if (m === 'arm') {
      seen.wake = 0;
      process.send({ armed: true });
      return;
    }
    if (m !== 'stop') return;
    ac.abort();
    await workers;
    await rt.close();
    process.exit(0);
  });
  // Postgres: LISTEN is up once an empty store read answers and the listener has connected; give it a beat.
  await new Promise((resolve) => setTimeout(resolve, 300));
  process.send({ ready: true });
} else {
  await main();
}

/** The store, its wake-ups and claims timed into `seen` (the first wake-up since the sample was armed). */
function timed(config, seen) {
  return {
    name: config.name,
    async open() {
      const store = await config.open();
      const subscribe = store.subscribe?.bind(store);
      if (subscribe) {
        store.subscribe = (onChange) =>
          subscribe((event) => {
            if (seen.wake === 0) seen.wake = epochNow();
            onChange(event);
          });
      }
      const claim = store.claim.bind(store);
      store.claim = async (request) => {
        const called = epochNow();
        const result = await claim(request);
        if (result.steps.length > 0) Object.assign(seen, { claimCalled: called, claimReturned: epochNow() });
        return result;
      };
      return store;
    },
  };
}

async function main() {
  const { values: args } = parseArgs({
    options: { samples: { type: 'string', default: '200' }, gap: { type: 'string', default: '100' }, store: { type: 'string', default: 'both' } },
  });
  const samples = Number(args.samples);
  const gap = Number(args.gap);
  const which = args.store;
  const pgUrl = process.env.TRELLIS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

  if (which === 'sqlite' || which === 'both') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-latency-'));
    try {
      await measure('sqlite', { kind: 'sqlite', file: path.join(dir, 'latency.db') }, samples, gap);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  if (which === 'postgres' || which === 'both') {
    const schema = `trellis_latency_${process.pid}`;
    try {
      await measure('postgres', { kind: 'postgres', url: pgUrl, schema }, samples, gap);
    } finally {
      await dropSchema(pgUrl, schema);
    }
  }
}

async function measure(name, spec, samples, gap) {
  // This process starts runs and runs no worker; the schema/file exists before the worker opens it.
  const rt = await newRuntime({ store: storeOf(spec) });
  rt.registerPackage(probePackage());
  const child = fork(fileURLToPath(import.meta.url), ['--worker', JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const started = new Map();
  let waiting;
  let armed;
  await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (m) => {
      if (m.ready) resolve();
      if (m.armed) armed?.();
      if (m.started !== undefined) {
        started.set(m.started, m);
        waiting?.();
      }
    });
  });
  const latencies = [];
  const startCalls = []; // how long startRun itself took: the start's round trip and commit
  const parts = { wake: [], claim: [], toExecutor: [] };
  for (let i = 0; i < samples + 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2 * gap * Math.random()));
    // The worker forgets earlier wake-ups (its own commits make some), then the sample starts.
    await new Promise((resolve) => {
      armed = resolve;
      child.send('arm');
    });
    const id = `s${i}`;
    const t0 = epochNow();
    await rt.startRun('probe', { id });
    const returned = epochNow();
    while (!started.has(id)) await new Promise((resolve) => (waiting = resolve));
    if (i >= 5) {
      const m = started.get(id);
      latencies.push(m.at - t0);
      startCalls.push(returned - t0);
      // The wake-up may come before startRun returns (the commit is visible before the reply arrives).
      parts.wake.push(m.wake - returned);
      parts.claim.push(m.claimReturned - m.claimCalled);
      parts.toExecutor.push(m.at - m.claimReturned);
    }
  }
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  await rt.close();
  const quantiles = (values) => {
    const s = [...values].sort((a, b) => a - b);
    const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(2);
    return `p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms, max ${s.at(-1).toFixed(2)} ms`;
  };
  console.log(`${name}: startRun -> executor start in another process, ${latencies.length} samples: ${quantiles(latencies)}`);
  console.log(`${name}:   of which the startRun call itself (its round trip and commit): ${quantiles(startCalls)}`);
  const p50 = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)].toFixed(2);
  console.log(
    `${name}:   p50 of each part: the wake-up arrives ${p50(parts.wake)} ms after startRun returns, ` +
      `the claim takes ${p50(parts.claim)} ms, the executor starts ${p50(parts.toExecutor)} ms after it returns`,
  );
}

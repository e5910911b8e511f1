// trellis on its SQLite store, as a contender for the shared peer benchmark
// (shared/bench/run.mjs --self <this file>; see shared/bench/README.md and
// contenders/_template.mjs for the workload semantics this must match).
//
// The harness imports this file in a child process whose cwd is shared/bench,
// so everything is resolved relative to this file: the BUILT package
// (../../dist, run `npm run build` first) and its better-sqlite3 from the repo.
//
// Mapping of the workloads onto trellis:
//   queue   a job = a run of a one-step package, all started with one
//           rt.startRuns() call (one transaction: the bulk API, as plainjob's
//           addMany). `--opt enqueue=single` uses one awaited startRun per job.
//   dag3    a run of A -> B -> C (requireSteps); B and C read their dependency's
//           result with step.dependencyData. Started like queue.
//   fanout  one run; its parent step emits K children and a join step that
//           requires all of them, in the same step (one commit).
//   latency idle workers; each probe starts one run of a one-step package.
// Workers run in this process and are started before the first enqueue.
import fs from 'node:fs';
import { newRuntime, sqliteStore, newExecutor, newPackage, requireSteps } from '../../dist/index.js';

export const name = 'trellis-sqlite';
export const backend = 'sqlite';
export const version = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

// trellis validates pollInterval > 0, so `--poll-ms 0` becomes 1 ms.
const pollOf = (ctx) => Math.max(1, ctx.pollMs ?? 250);

export function settings(ctx) {
  return {
    maxWorkers: ctx.concurrency,
    pollInterval: pollOf(ctx), // only a backstop: new work in this process wakes the workers at once
    store: 'sqliteStore (WAL, synchronous=NORMAL, set by trellis)',
    enqueue: enqueueMode(ctx),
    notes:
      'queue = n runs of a one-step package, started with one rt.startRuns() (one transaction; --opt enqueue=single: n x await rt.startRun()). ' +
      'Executors are untyped (newExecutor), packages untyped: no zod validation per step, like the peers. ' +
      'dag3 = one run with steps A -> B -> C (requireSteps), B/C read step.dependencyData. ' +
      'fanout = parent step emits K children + a join step requiring all K (one commit). ' +
      'Finished runs and steps stay in the database.',
  };
}

// Opens a runtime on the harness's fresh SQLite file, registers what `setup`
// adds, starts the workers, runs `body`, then stops the workers (in-flight
// steps settle and their outcomes are written) and lets `verify` read the
// final state before the store closes.
async function withTrellis(ctx, setup, body, verify) {
  const rt = await newRuntime({ store: sqliteStore(ctx.sqlitePath), maxWorkers: ctx.concurrency, pollInterval: pollOf(ctx) });
  setup(rt);
  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal });
  let out;
  try {
    out = await body(rt);
  } finally {
    ac.abort();
    await workers;
  }
  try {
    return verify ? { ...out, checks: { ...out?.checks, ...(await verify(rt)) } } : out;
  } finally {
    await rt.close();
  }
}

// The bulk start (startRuns) unless told otherwise or the build predates it.
const enqueueMode = (ctx) => (ctx.options.enqueue === 'single' ? 'single' : 'bulk');
async function startAll(ctx, rt, pkg, inputs) {
  if (enqueueMode(ctx) === 'bulk' && typeof rt.startRuns === 'function') {
    await rt.startRuns(pkg, inputs.map((input) => ({ input })));
    return;
  }
  // The store is synchronous (better-sqlite3), so keeping several startRun calls
  // in flight only interleaves them; one after another is as fast.
  for (const input of inputs) await rt.startRun(pkg, input);
}

// Counts runs by status, paging (listRuns caps `limit` at 10 000).
async function countRuns(rt, status) {
  let count = 0;
  let after;
  for (;;) {
    const page = await rt.listRuns({ status, limit: 10_000, ...(after ? { after } : {}) });
    count += page.length;
    if (page.length < 10_000) return count;
    after = page[page.length - 1].id;
  }
}

// One package with a single step of `kind`; the run input becomes the step input.
const oneStep = (pkg, kind) =>
  newPackage(pkg)
    .entrypoint((run, input) => {
      run.step('job', input, { kind });
    })
    .build();

export async function queue(ctx) {
  const { n } = ctx;
  const done = ctx.helpers.counter(n);
  return withTrellis(
    ctx,
    (rt) => {
      rt.registerExecutor(newExecutor('bench/noop', async () => void done.hit()));
      rt.registerPackage(oneStep('job', 'bench/noop'));
    },
    async (rt) => {
      const inputs = Array.from({ length: n }, (_, i) => ({ i }));
      ctx.begin();
      await startAll(ctx, rt, 'job', inputs);
      ctx.enqueued();
      await done.done;
      ctx.end(done.doneAt);
      return { checks: { handled: done.count } };
    },
    async (rt) => ({ runsSucceeded: await countRuns(rt, 'succeeded') }),
  );
}

export async function dag3(ctx) {
  const { n } = ctx;
  const done = ctx.helpers.counter(n);
  return withTrellis(
    ctx,
    (rt) => {
      rt.registerExecutor(newExecutor('bench/a', async (step) => step.result({ a: step.input().run, from: 'A' })));
      rt.registerExecutor(
        newExecutor('bench/b', async (step) => {
          const { a } = await step.dependencyData('A');
          step.result({ b: a + 1, from: 'B' });
        }),
      );
      rt.registerExecutor(
        newExecutor('bench/c', async (step) => {
          const { b } = await step.dependencyData('B');
          if (b !== step.input().run + 1) {
            const err = new Error(`bad data in ${step.workflow.id}: b=${b}`);
            done.fail(err); // end the workload at once instead of waiting for the timeout
            throw err;
          }
          done.hit();
        }),
      );
      rt.registerPackage(
        newPackage('dag3')
          .entrypoint((run, input) => {
            const a = run.step('A', input, { kind: 'bench/a' });
            const b = run.step('B', input, { kind: 'bench/b', dependsOn: requireSteps(a) });
            run.step('C', input, { kind: 'bench/c', dependsOn: requireSteps(b) });
          })
          .build(),
      );
    },
    async (rt) => {
      const inputs = Array.from({ length: n }, (_, i) => ({ run: i }));
      ctx.begin();
      await startAll(ctx, rt, 'dag3', inputs);
      ctx.enqueued();
      await done.done;
      ctx.end(done.doneAt);
      return { steps: 3 * n, checks: { runsCompleted: done.count } };
    },
    async (rt) => ({ runsSucceeded: await countRuns(rt, 'succeeded') }),
  );
}

export async function fanout(ctx) {
  const K = ctx.fanout;
  const joined = ctx.helpers.deferred();
  let childRuns = 0;
  let runId;
  return withTrellis(
    ctx,
    (rt) => {
      rt.registerExecutor(
        newExecutor('bench/parent', async (step) => {
          const ids = [];
          for (let i = 0; i < K; i++) ids.push(step.emit(`child-${i}`, { i }, { kind: 'bench/child' }));
          step.emit('join', {}, { kind: 'bench/join', dependsOn: requireSteps(...ids) });
        }),
      );
      rt.registerExecutor(newExecutor('bench/child', async () => void childRuns++));
      rt.registerExecutor(newExecutor('bench/join', async () => joined.resolve(ctx.helpers.now())));
      rt.registerPackage(oneStep('fanout', 'bench/parent'));
    },
    async (rt) => {
      ctx.begin();
      runId = (await rt.startRun('fanout', {})).id;
      ctx.end(await joined.promise);
      return { checks: { childRuns } };
    },
    async (rt) => {
      const steps = await rt.steps(runId);
      return {
        runStatus: (await rt.workflow(runId))?.status,
        stepsSucceeded: steps.filter((s) => s.status === 'succeeded').length, // K children + parent + join
      };
    },
  );
}

export async function latency(ctx) {
  const probe = ctx.helpers.latencyProbe(ctx);
  return withTrellis(
    ctx,
    (rt) => {
      rt.registerExecutor(
        newExecutor('bench/probe', async (step) => {
          const { id } = step.input();
          probe.started(id);
          probe.finished(id);
        }),
      );
      rt.registerPackage(oneStep('probe', 'bench/probe'));
    },
    (rt) => probe.run(async (id) => void (await rt.startRun('probe', { id }))),
  );
}

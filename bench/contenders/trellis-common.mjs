// The workloads shared by the trellis contenders (trellis-sqlite.mjs,
// trellis-postgres.mjs): the same packages, executors and checks on whichever
// store the contender passes in, so the two backends run identical work.
// Not a contender itself (it exports no `name`); see
// shared/bench/contenders/_template.mjs for the workload semantics this must match.
//
// Everything is resolved relative to this file: the BUILT package (../../dist,
// run `npm run build` first) and its drivers (better-sqlite3, pg) from the repo.
//
// Mapping of the workloads onto trellis:
//   queue   a job = a run of a one-step package, all started with one
//           rt.startRuns() call (one transaction: the bulk API, as plainjob's
//           addMany and graphile-worker's addJobs). `--opt enqueue=single`
//           uses one startRun per job instead.
//   dag3    a run of A -> B -> C (requireSteps); B and C read their dependency's
//           result with step.dependencyData. Started like queue.
//   fanout  one run; its parent step emits K children and a join step that
//           requires all of them, in the same step (one commit).
//   latency idle workers; each probe starts one run of a one-step package.
// Workers run in this process and are started before the first enqueue; a
// store with a LISTEN connection (Postgres) has it up before timing starts.
import fs from 'node:fs';
import { newRuntime, newExecutor, newPackage, requireSteps } from '../../dist/index.js';

export const version = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

// trellis validates pollInterval > 0, so `--poll-ms 0` becomes 1 ms.
const pollOf = (ctx) => Math.max(1, ctx.pollMs ?? 250);

// The bulk start (startRuns) unless told otherwise or the build predates it.
const enqueueMode = (ctx) => (ctx.options.enqueue === 'single' ? 'single' : 'bulk');

/**
 * The contender's `settings` and workload functions for one store.
 *   store(ctx)          the StoreConfig on the harness's fresh file/database
 *   storeSettings(ctx)  how that store is set up, for the settings line
 *   startsInFlight(ctx) startRun calls kept in flight with --opt enqueue=single
 */
export function trellisContender({ store, storeSettings, startsInFlight }) {
  function settings(ctx) {
    return {
      maxWorkers: ctx.concurrency,
      pollInterval: pollOf(ctx), // only a backstop: new work wakes the workers at once
      ...storeSettings(ctx),
      enqueue: enqueueMode(ctx),
      notes:
        'queue = n runs of a one-step package, started with one rt.startRuns() (one transaction; ' +
        `--opt enqueue=single: n x rt.startRun(), ${startsInFlight(ctx)} in flight). ` +
        'Executors are untyped (newExecutor), packages untyped: no zod validation per step, like the peers. ' +
        'dag3 = one run with steps A -> B -> C (requireSteps), B/C read step.dependencyData. ' +
        'fanout = parent step emits K children + a join step requiring all K (one commit). ' +
        'Finished runs and steps stay in the database.',
    };
  }

  // Opens a runtime on the harness's fresh store, registers what `setup` adds,
  // starts the workers, runs `body`, then stops the workers (in-flight steps
  // settle and their outcomes are written) and lets `verify` read the final
  // state before the store closes.
  async function withTrellis(ctx, setup, body, verify) {
    // Pass the store config through, keeping the opened store: the runtime does
    // not expose it, and the Postgres one tells when its LISTEN is up.
    const config = store(ctx);
    let opened;
    const rt = await newRuntime({
      store: { name: config.name, open: async () => (opened = await config.open()) },
      maxWorkers: ctx.concurrency,
      pollInterval: pollOf(ctx),
    });
    setup(rt);
    const ac = new AbortController();
    const workers = rt.startWorkers({ signal: ac.signal }); // subscribes to the store at once
    let out;
    try {
      await opened.listening?.(); // Postgres: LISTEN connection up before the first enqueue
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

  async function startAll(ctx, rt, pkg, inputs) {
    if (enqueueMode(ctx) === 'bulk' && typeof rt.startRuns === 'function') {
      await rt.startRuns(pkg, inputs.map((input) => ({ input })));
      return;
    }
    await ctx.helpers.mapLimit(inputs, startsInFlight(ctx), (input) => rt.startRun(pkg, input));
  }

  async function queue(ctx) {
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

  async function dag3(ctx) {
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

  async function fanout(ctx) {
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

  async function latency(ctx) {
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

  return { settings, queue, dag3, fanout, latency };
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

// The runs an upgrade fixture holds, in every state a store can be left in, and
// what finishes them. One module for both sides: `make-fixtures.mjs` lays the
// runs out with the built package (the release that writes the fixture), and
// `upgrade.test.ts` finishes them with the source under test (the release that
// opens it). `lib` is the trellis module of each side.
//
// Plain JavaScript (with workload.d.mts beside it) because the generator runs
// under plain `node`, against dist/.

/** The runs of a fixture, by id: what each is left as, and how it must end. */
export const FIXTURE_RUNS = {
  "up-ready": { leftAs: "a step ready, never claimed", endsAs: "succeeded" },
  "up-mid": { leftAs: "A succeeded, B ready, C pending on B", endsAs: "succeeded" },
  "up-running": { leftAs: "a step leased by a worker that died", endsAs: "succeeded" },
  "up-retry": { leftAs: "a failed attempt, its retry scheduled", endsAs: "succeeded" },
  "up-signal": { leftAs: "waiting for signal go", endsAs: "succeeded" },
  "up-sleep": { leftAs: "sleeping", endsAs: "succeeded" },
  "up-parent": { leftAs: "waiting for its child run, whose step is ready", endsAs: "succeeded" },
  "up-paused": { leftAs: "paused before any step ran", endsAs: "succeeded" },
  "up-done": { leftAs: "succeeded, with an artifact", endsAs: "succeeded" },
  "up-failed": { leftAs: "failed (permanent error)", endsAs: "failed" },
  "up-canceled": { leftAs: "canceled", endsAs: "canceled" },
};

/** The schema a Postgres fixture is dumped under; the test renames it to its own. */
export const FIXTURE_SCHEMA = "trellis_upgrade_fixture";

/** The schedule a fixture holds, paused so that it never fires in a test (releases that have schedules). */
export const FIXTURE_SCHEDULE = { id: "up-nightly", cron: "0 3 * * *", package: "up.single" };

/**
 * The queue of every step the fixture leaves ready. The release writing the
 * fixture runs it with one worker place (`LAY_OUT_CONFIG`), taken by the step
 * that never returns: the others in it stay ready, on every release (older ones
 * fail a step of a kind without an executor rather than leave it).
 */
const LATER = "later";
export const LAY_OUT_CONFIG = { queues: { [LATER]: { maxWorkers: 1 } } };

/** ms the sleep and the retry wait in the fixture: short, so a test right after generating only waits this long. */
const SHORT_WAIT_MS = 5_000;

/** Registers the packages of the fixture's runs. */
export function registerPackages(rt, lib) {
  const { newPackage, requireSteps } = lib;
  rt.registerPackage(newPackage("up.single").entrypoint((run, input) => void run.step("only", input, { kind: "up/later", queue: LATER })).build());
  rt.registerPackage(
    newPackage("up.chain")
      .entrypoint((run, input) => {
        const a = run.step("A", input, { kind: "up/now" });
        const b = run.step("B", null, { kind: "up/later", queue: LATER, dependsOn: requireSteps(a) });
        run.step("C", null, { kind: "up/later", queue: LATER, dependsOn: requireSteps(b) });
      })
      .build(),
  );
  rt.registerPackage(newPackage("up.hang").entrypoint((run) => void run.step("hang", null, { kind: "up/hang", queue: LATER })).build());
  rt.registerPackage(
    newPackage("up.retry")
      .entrypoint((run) => void run.step("flaky", null, { kind: "up/flaky", retry: { maxAttempts: 3, backoff: "fixed", initialBackoff: SHORT_WAIT_MS } }))
      .build(),
  );
  rt.registerPackage(
    newPackage("up.signal")
      .entrypoint((run) => {
        const go = run.waitForSignal("go", "go");
        run.step("after", null, { kind: "up/later", queue: LATER, dependsOn: requireSteps(go) });
      })
      .build(),
  );
  rt.registerPackage(
    newPackage("up.sleep")
      .entrypoint((run) => {
        const nap = run.sleep("nap", SHORT_WAIT_MS);
        run.step("after", null, { kind: "up/later", queue: LATER, dependsOn: requireSteps(nap) });
      })
      .build(),
  );
  rt.registerPackage(
    newPackage("up.parent")
      .entrypoint((run) => {
        const kid = run.childRun("kid", "up.single", "from the parent");
        run.step("after", null, { kind: "up/later", queue: LATER, dependsOn: requireSteps(kid) });
      })
      .build(),
  );
  rt.registerPackage(newPackage("up.artifact").entrypoint((run) => void run.step("write", null, { kind: "up/artifact" })).build());
  rt.registerPackage(newPackage("up.fail").entrypoint((run) => void run.step("boom", null, { kind: "up/fail" })).build());
}

/**
 * The release that writes the fixture (its runtime opened with `LAY_OUT_CONFIG`):
 * lays the runs out and returns once every one is in its state. `up/hang` never
 * returns, so its lease is held when the store is copied, and its queue stays
 * full: the `up/later` steps (no executor here) stay ready.
 */
export async function layOut(rt, lib) {
  const { newExecutor, permanent, retryable } = lib;
  registerPackages(rt, lib);
  rt.registerExecutor(newExecutor("up/now", async (step) => step.result({ a: step.input() })));
  rt.registerExecutor(newExecutor("up/hang", () => new Promise(() => {})));
  rt.registerExecutor(
    newExecutor("up/flaky", async () => {
      throw retryable("flaky", new Error("the first attempt fails"));
    }),
  );
  rt.registerExecutor(newExecutor("up/artifact", async (step) => (step.artifact("report.txt", "text/plain", "written before the upgrade"), step.result("ok"))));
  rt.registerExecutor(
    newExecutor("up/fail", async () => {
      throw permanent("broken", new Error("fails for good"));
    }),
  );
  // Before any worker runs: started and paused, started and canceled.
  await rt.startRun("up.chain", "paused", { runId: "up-paused" });
  await rt.pauseRun("up-paused");
  await rt.startRun("up.single", "canceled", { runId: "up-canceled" });
  await rt.cancelRun("up-canceled");
  if (typeof rt.schedule === "function") {
    await rt.schedule({ ...FIXTURE_SCHEDULE, input: "nightly" });
    await rt.pauseSchedule(FIXTURE_SCHEDULE.id);
  }

  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal });
  const stepOf = async (runId, stepId) => (await rt.steps(runId)).find((s) => s.id === stepId);
  const until = async (what, probe) => {
    const deadline = Date.now() + 30_000;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`the fixture's runs did not reach their states in 30 s: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  // First the step that fills the later queue's one place.
  await rt.startRun("up.hang", null, { runId: "up-running" });
  await until("up-running leased", async () => (await stepOf("up-running", "hang"))?.status === "running");

  await rt.startRun("up.single", "ready", { runId: "up-ready" });
  await rt.startRun("up.chain", "mid", { runId: "up-mid" });
  await rt.startRun("up.retry", null, { runId: "up-retry" });
  await rt.startRun("up.signal", null, { runId: "up-signal" });
  await rt.startRun("up.sleep", null, { runId: "up-sleep" });
  await rt.startRun("up.parent", null, { runId: "up-parent" });
  await rt.startRun("up.artifact", null, { runId: "up-done" });
  await rt.startRun("up.fail", null, { runId: "up-failed" });

  const laidOut = async () => {
    const checks = [
      (await stepOf("up-mid", "A"))?.status === "succeeded",
      (await stepOf("up-retry", "flaky"))?.attempt === 1 && (await stepOf("up-retry", "flaky"))?.status === "ready",
      (await stepOf("up-signal", "go"))?.status === "waiting",
      (await stepOf("up-sleep", "nap"))?.status === "waiting",
      (await stepOf("up-parent", "kid"))?.status === "waiting",
      (await rt.workflow("up-done"))?.status === "succeeded",
      (await rt.workflow("up-failed"))?.status === "failed",
    ];
    return checks.every(Boolean);
  };
  await until("every run in its state", laidOut);
  return { stop: () => ac.abort(), workers };
}

/**
 * The release that opens the fixture: executors that all succeed, the signal
 * and the resume the waiting runs need. Returns the executor calls by kind.
 */
export async function finishFixture(rt, lib) {
  const { newExecutor } = lib;
  registerPackages(rt, lib);
  const calls = new Map();
  const count = (kind) => calls.set(kind, (calls.get(kind) ?? 0) + 1);
  rt.registerExecutor(newExecutor("up/now", async (step) => (count("up/now"), step.result({ a: step.input() }))));
  rt.registerExecutor(newExecutor("up/later", async (step) => (count("up/later"), step.result({ later: step.input() }))));
  rt.registerExecutor(newExecutor("up/hang", async (step) => (count("up/hang"), step.result("finished after the upgrade"))));
  rt.registerExecutor(newExecutor("up/flaky", async (step) => (count("up/flaky"), step.result("second attempt"))));
  rt.registerExecutor(newExecutor("up/artifact", async (step) => (count("up/artifact"), step.result("again"))));
  rt.registerExecutor(newExecutor("up/fail", async (step) => (count("up/fail"), step.result("never"))));
  await rt.signal("up-signal", "go", { approved: true });
  await rt.resumeRun("up-paused");
  return calls;
}

// The application behind `npm run example:admin`: a runtime with runs in every
// state (succeeded, failed, running, waiting for a signal, paused, canceled, a
// parent with a child run) and the admin page mounted on node:http at /admin.
// main.mjs runs it; screenshots.mjs uses it to photograph each page.
import http from "node:http";
import { newExecutor, newPackage, newRuntime, permanent, requireSteps, sqliteStore } from "../../dist/index.js";
import { createAdmin } from "../../dist/admin.js";

/** Starts the app on `dbFile`; resolves with its URL, the runs it started, and `stop()`. */
export async function startAdminExample(dbFile, { port = 0 } = {}) {
  const rt = await newRuntime({ store: sqliteStore(dbFile) });

  rt.registerExecutor(newExecutor("shop/validate", async (step) => step.result({ valid: true, items: step.input().items })));
  rt.registerExecutor(
    newExecutor("shop/charge", async (step) => {
      const { card } = step.input();
      if (card.startsWith("declined")) throw permanent("card_declined", new Error(`the bank declined card ending ${card.slice(-4)}`));
      step.result({ charged: true });
    }),
  );
  rt.registerExecutor(
    newExecutor("shop/ship", async (step) => {
      step.artifact("label.txt", "text/plain", "SHIP TO: Ada Lovelace\n12 Analytical Way\n");
      step.result({ tracking: "TRK-1842" });
    }),
  );
  rt.registerExecutor(
    newExecutor("ops/import", async (step) => {
      // A long import: runs until the run is canceled or the app stops.
      await new Promise((resolve) => step.signal.addEventListener("abort", resolve, { once: true }));
      throw step.signal.reason;
    }),
  );
  rt.registerExecutor(newExecutor("ops/apply", async (step) => step.result({ applied: await step.dependencyData("approval") })));

  rt.registerPackage(
    newPackage("order")
      .displayName("Order")
      .entrypoint(async (run, input) => {
        const validated = run.step("validate", input, { kind: "shop/validate" });
        const charged = run.step("charge", { card: input.card }, { kind: "shop/charge", queue: "payments", dependsOn: requireSteps(validated) });
        run.output(run.step("ship", { address: "12 Analytical Way" }, { kind: "shop/ship", queue: "shipping", dependsOn: requireSteps(charged) }));
      })
      .build(),
  );
  rt.registerPackage(newPackage("import").displayName("Nightly import").entrypoint(async (run, input) => void run.step("load", input, { kind: "ops/import", queue: "imports" })).build());
  rt.registerPackage(
    newPackage("change-request")
      .displayName("Change request")
      .entrypoint(async (run, input) => {
        const approval = run.waitForSignal("approval", "approve");
        run.step("apply", input, { kind: "ops/apply", dependsOn: requireSteps(approval) });
      })
      .build(),
  );
  rt.registerPackage(
    newPackage("batch")
      .displayName("Order batch")
      .entrypoint(async (run) => void run.childRun("first-order", "order", { items: ["book"], card: "4242424242424242" }))
      .build(),
  );

  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal });
  const suffix = Date.now().toString(36);
  const started = {
    succeeded: await rt.startRun("order", { items: ["book", "pen"], card: "4242424242424242" }, { runId: `order-ok-${suffix}`, metadata: { tenant: "acme" } }),
    failed: await rt.startRun("order", { items: ["lamp"], card: "declined-0019" }, { runId: `order-declined-${suffix}`, metadata: { tenant: "globex" } }),
    running: await rt.startRun("import", { file: "customers.csv" }, { runId: `import-${suffix}` }),
    waiting: await rt.startRun("change-request", { change: "raise the rate limit" }, { runId: `change-${suffix}` }),
    paused: await rt.startRun("change-request", { change: "rotate the keys" }, { runId: `change-paused-${suffix}` }),
    canceled: await rt.startRun("import", { file: "old.csv" }, { runId: `import-canceled-${suffix}` }),
    parent: await rt.startRun("batch", {}, { runId: `batch-${suffix}` }),
  };
  for (const key of ["succeeded", "failed", "parent"]) await rt.waitForRun(started[key].id, { timeout: 10_000 });
  // Operator actions record who did them and why in the run's event log (the run page's Events).
  await rt.retryRun(started.failed.id, { actor: "ada@example.com", reason: "the card provider was down" });
  await rt.waitForRun(started.failed.id, { timeout: 10_000 }); // declined again: failed, with the retry in its log
  await rt.pauseRun(started.paused.id, { actor: "ada@example.com", reason: "waiting for the change window" });
  await rt.cancelRun(started.canceled.id, { actor: "ops-bot", reason: "superseded by a newer import" });

  const admin = createAdmin(rt, {
    basePath: "/admin",
    // An example on the loopback interface: anyone who reaches it may act. A real app checks its session here.
    authorize: () => true,
    actor: () => "example operator",
    onAction: (record) => console.log(`admin action: ${JSON.stringify(record)}`),
  });
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith("/admin")) return admin.node(req, res);
    res.writeHead(302, { location: "/admin/" }).end();
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/admin/`,
    rt,
    started,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      ac.abort();
      await workers;
      await rt.close({ shutdownGrace: 1_000 });
    },
  };
}

import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { newExecutor, newPackage, requireSteps, retryable } from "trellis";
import { createTestRuntime } from "trellis/testing";

const DAY = 24 * 60 * 60 * 1000;

// The workflow under test: charge the card (retried a minute later if the
// gateway is busy), wait a day for the cooling-off period, then ship.
const order = newPackage("order").entrypoint((run, input) => {
  const charge = run.step("charge", input, { kind: "payments/charge", retry: { maxAttempts: 3, backoff: "fixed", initialBackoff: 60_000 } });
  const coolingOff = run.sleep("cooling-off", DAY, { dependsOn: requireSteps(charge) });
  run.output(run.step("ship", input, { kind: "warehouse/ship", dependsOn: requireSteps(coolingOff) }));
}).build();

let env;
let charges; // the idempotency keys the payment gateway was called with
let gatewayBusy;

beforeEach(async () => {
  env = await createTestRuntime();
  charges = [];
  gatewayBusy = false;
  env.rt.registerExecutor(newExecutor("payments/charge", async (step) => {
    if (gatewayBusy) {
      gatewayBusy = false;
      throw retryable("gateway_busy", new Error("try again later"));
    }
    charges.push(`charge-${step.input().id}`);
  }));
  env.rt.registerExecutor(newExecutor("warehouse/ship", async (step) => ({ shipped: step.input().id, at: step.now })));
  env.rt.registerPackage(order);
});
afterEach(() => env.close());

test("charges, retries a busy gateway a minute later, waits a day, then ships", async () => {
  gatewayBusy = true;
  const run = await env.execute(order, { id: "o-1", amount: 42 });
  assert.deepEqual(await env.statuses(run.id), { charge: "ready", "cooling-off": "pending", ship: "pending" });

  await env.advance(60_000);
  await env.runUntilIdle();
  assert.deepEqual(charges, ["charge-o-1"]);
  assert.equal((await env.statuses(run.id))["cooling-off"], "waiting");

  await env.advance(DAY);
  await env.runUntilIdle();
  assert.equal((await env.rt.workflow(run.id)).status, "succeeded");
  assert.deepEqual(await env.rt.output(run.id), { shipped: "o-1", at: new Date(env.now()) });
});

test("a worker that dies before the charge commits: the charge runs again with the same key", async () => {
  const crash = env.crashNextAttempt("charge");
  const run = await env.execute(order, { id: "o-2", amount: 42 });
  assert.equal(crash.crashed, true);
  assert.deepEqual(charges, ["charge-o-2"]);

  await env.advance(env.leaseDuration); // the dead worker's lease expires
  await env.runUntilIdle();
  assert.deepEqual(charges, ["charge-o-2", "charge-o-2"]);
  assert.ok((await env.story(run.id)).includes("step_reclaimed charge"));
  assert.equal((await env.statuses(run.id))["cooling-off"], "waiting");
});

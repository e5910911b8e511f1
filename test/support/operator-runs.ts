/**
 * A runtime with runs in the states an operator meets: a run waiting for a
 * signal with a failed (handled) step and a large emitted fan-out with one
 * failure, a succeeded run, a failed run, a child run. Used by the run-graph and
 * `trellis runs` tests on both stores.
 */
import { newExecutor, newPackage, newRuntime, onComplete, onFailure, permanent, type Runtime, type StoreConfig } from "../../src/index.js";

export interface ShopInput {
  /** How many `shop/item` steps `fetch` emits. */
  items: number;
  /** The item that fails (none if undefined). */
  failItem?: number;
  /** Whether `charge` fails (its failure is handled by `refund`). */
  failCharge?: boolean;
  /** Lay out a `waitForSignal("approval", "approve")` step. */
  approval?: boolean;
  /** Lay out a child run of package "child". */
  child?: boolean;
}

/** Registers the executors and packages ("shop", "child", "broken") on a runtime. */
export function registerShop(rt: Runtime): void {
  rt.registerExecutor(
    newExecutor("shop/fetch", async (step) => {
      const { items, failItem } = step.input<ShopInput>();
      const ids: string[] = [];
      for (let i = 0; i < items; i++) ids.push(step.emit(`item-${i}`, { i, fail: i === failItem }, { kind: "shop/item" }));
      step.emit("join", {}, { kind: "shop/join", dependsOn: ids.map((stepId) => ({ stepId, required: false })) });
      step.result({ emitted: items });
    }),
  );
  rt.registerExecutor(
    newExecutor("shop/item", async (step) => {
      const { i, fail } = step.input<{ i: number; fail?: boolean }>();
      if (fail) throw permanent("item_broken", new Error(`item ${i} is broken`));
      step.result({ i });
    }),
  );
  rt.registerExecutor(newExecutor("shop/join", async (step) => step.result("joined")));
  rt.registerExecutor(
    newExecutor("shop/charge", async (step) => {
      if (step.input<{ fail?: boolean }>().fail) throw permanent("card_declined", new Error("the card was declined"));
      step.result("charged");
    }),
  );
  rt.registerExecutor(newExecutor("shop/refund", async (step) => step.result("refunded")));
  rt.registerExecutor(newExecutor("shop/cleanup", async (step) => step.result("cleaned")));
  rt.registerPackage(
    newPackage("shop")
      .entrypoint(async (run, raw) => {
        const input = raw as ShopInput;
        run.step("fetch", input, { kind: "shop/fetch" });
        const charge = run.step("charge", { fail: input.failCharge ?? false }, { kind: "shop/charge", queue: "payments" });
        run.step("refund", {}, { kind: "shop/refund", dependsOn: onFailure(charge) });
        run.step("cleanup", {}, { kind: "shop/cleanup", dependsOn: onComplete(charge) });
        if (input.approval) run.waitForSignal("approval", "approve");
        if (input.child) run.childRun("child", "child", { n: 1 });
      })
      .build(),
  );
  rt.registerPackage(newPackage("child").entrypoint((run) => void run.step("only", {}, { kind: "shop/join" })).build());
  rt.registerPackage(newPackage("broken").entrypoint((run) => void run.step("boom", { fail: true }, { kind: "shop/charge" })).build());
}

/** Runs cycles until one claims nothing: every step that can run now has run. */
export async function runUntilIdle(rt: Runtime): Promise<void> {
  while ((await rt.runOnce()).claimed > 0) {
    // go on
  }
}

/**
 * Fills a store with: "waiting" (running, waits for a signal, charge failed and
 * handled, 30 items with item 7 failed handled by join, a child run),
 * "done" (succeeded, 3 items), "broken" (failed), "paused" (paused before any
 * step ran). Returns the runtime, still open.
 */
export async function seedOperatorRuns(store: StoreConfig): Promise<Runtime> {
  const rt = await newRuntime({ store });
  registerShop(rt);
  await rt.startRun("shop", { items: 3 }, { runId: "done" });
  await rt.startRun("shop", { items: 30, failItem: 7, failCharge: true, approval: true, child: true }, { runId: "waiting" });
  await rt.startRun("broken", {}, { runId: "broken" });
  await rt.startRun("shop", { items: 1 }, { runId: "paused" });
  await rt.pauseRun("paused");
  await runUntilIdle(rt);
  return rt;
}

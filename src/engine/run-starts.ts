/**
 * Starting runs of one package: each item's version of the package picked
 * (the one named, or the newest), each run prepared, and all of them written
 * in one transaction, with the first steps leased to this process's idle
 * workers in the same transaction when it offers a start lease.
 */
import type { ResolvedConfig } from "../config.js";
import type { WorkflowPackage } from "../package.js";
import type { WorkerTelemetry } from "../observability/worker-telemetry.js";
import type { CreatedRun, NewRun, Store } from "../store/store.js";
import type { RunHandle } from "../types.js";
import type { PackageRegistry } from "./package-registry.js";
import { prepareRun, type StartRunOptions } from "./run-preparation.js";
import { asInvalidInput } from "./runtime-arguments.js";
import type { Scheduler } from "./scheduler.js";

export interface RunStartDeps {
  store: Store;
  config: ResolvedConfig;
  telemetry: WorkerTelemetry;
  packages: PackageRegistry;
  scheduler: Scheduler;
}

/** See `Runtime.startRuns`: all of the runs or none; existing run ids come back as they are. */
export async function startRuns(
  deps: RunStartDeps,
  which: string | WorkflowPackage<unknown>,
  items: readonly ({ input: unknown } & StartRunOptions)[],
): Promise<RunHandle[]> {
  const { store, config, packages, scheduler } = deps;
  const newest = packages.resolve(which);
  return deps.telemetry.traceStart(newest.name, items.length, async (stamp) => {
    const handles: (RunHandle | undefined)[] = [];
    const toCreate: { index: number; run: NewRun }[] = [];
    for (const [index, item] of items.entries()) {
      // The version named (unknown_package if it is not registered here), else the newest.
      const pkg = item.version === undefined ? newest : packages.get(newest.name, item.version);
      const prepared = await prepareRun(store, config, pkg, item, stamp).catch(asInvalidInput);
      if ("run" in prepared) toCreate.push({ index, run: prepared });
      handles[index] = "run" in prepared ? undefined : prepared;
    }
    if (toCreate.length) {
      // Idle workers here take the first steps in the same transaction (no claim needed).
      const lease = scheduler.offerStartLease();
      let stored: CreatedRun[];
      try {
        stored = await store.createRuns(
          toCreate.map((c) => c.run),
          lease?.request,
        );
      } catch (err) {
        lease?.cancel();
        throw err;
      }
      lease?.adopt(stored.flatMap((s) => s.claimed ?? []));
      stored.forEach(({ run }, i) => {
        handles[(toCreate[i] as { index: number }).index] = { id: run.id, package: run.package, name: run.name };
      });
      if (stored.some((s) => s.created)) scheduler.wake();
    }
    return handles as RunHandle[];
  });
}

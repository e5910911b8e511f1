/**
 * The workload the plan tests (sqlite-plans, postgres-plans) fill a store with
 * before turning most of it into history: runs of A -> B -> C, each step
 * reading the run's input.
 */
import { newPackage, requireSteps, type Runtime } from "../../src/index.js";

/** Registers the package `d` and starts `batches` x `perBatch` runs of it (inputs 0, 1, ...). */
export async function startPlanRuns(rt: Runtime, batches: number, perBatch: number): Promise<void> {
  rt.registerPackage(
    newPackage("d")
      .entrypoint((run, input) => {
        const a = run.step("A", input, { kind: "a" });
        const b = run.step("B", input, { kind: "b", dependsOn: requireSteps(a) });
        run.step("C", input, { kind: "c", dependsOn: requireSteps(b) });
      })
      .build(),
  );
  for (let i = 0; i < batches; i++) await rt.startRuns("d", Array.from({ length: perBatch }, (_, j) => ({ input: i * perBatch + j })));
}

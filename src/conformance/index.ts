/**
 * The store conformance suite: the behaviour every store adapter must show,
 * written against the public `Runtime` API so that it checks what applications
 * rely on, not an adapter's internals. Both built-in adapters run it; a
 * third-party adapter runs it from its own vitest file:
 *
 * @example
 * // my-store.test.ts
 * import { describeStoreConformance } from "trellis/conformance";
 * describeStoreConformance({ name: "my-store", makeStore: () => myStore(freshDatabaseUrl()) });
 */
import { describe } from "vitest";
import type { ConformanceTarget } from "./harness.js";
import { branchesSuite } from "./branches.js";
import { controlSuite } from "./control.js";
import { executionSuite } from "./execution.js";
import { operationsSuite } from "./operations.js";
import { runsSuite } from "./runs.js";
import { schedulesSuite } from "./schedules.js";
import { schedulingSuite } from "./scheduling.js";
import { retentionSuite } from "./retention.js";
import { startLeasesSuite } from "./start-leases.js";
import { stepCountsSuite } from "./step-counts.js";
import { waitsSuite } from "./waits.js";

export type { ConformanceTarget } from "./harness.js";
export { Gate, Harness, waitUntil } from "./harness.js";
export { describeArtifactStoreConformance, BAD_ARTIFACT_NAMES, type ArtifactStoreConformanceTarget } from "./artifacts.js";
export { describeProjectionConformance, BAD_PROJECTION_NAMES, type ProjectionConformanceTarget } from "./projections.js";
export { FaultInjector, InjectedStoreError, type FaultRule, type FaultableMethod, type InjectedFault } from "./fault-injector.js";

export function describeStoreConformance(target: ConformanceTarget): void {
  describe(`store conformance: ${target.name}`, () => {
    runsSuite(target);
    executionSuite(target);
    schedulingSuite(target);
    operationsSuite(target);
    branchesSuite(target);
    waitsSuite(target);
    controlSuite(target);
    retentionSuite(target);
    startLeasesSuite(target);
    stepCountsSuite(target);
    schedulesSuite(target);
  });
}

/**
 * The store conformance suite: the behaviour every store adapter must show,
 * written against the public `Runtime` API so that it checks what applications
 * rely on, not an adapter's internals. Both built-in adapters run it; a
 * third-party adapter runs it from its own test file, under vitest, Jest or
 * `node:test` (the runner's functions are passed in; Jest's globals are found):
 *
 * @example
 * // my-store.test.ts (vitest)
 * import * as vitest from "vitest";
 * import { describeStoreConformance } from "trellis/conformance";
 * describeStoreConformance({ name: "my-store", makeStore: () => myStore(freshDatabaseUrl()) }, vitest);
 */
import { describe, useRunner, type ConformanceRunner } from "./runner.js";
import type { ConformanceTarget } from "./harness.js";
import { branchesSuite } from "./branches.js";
import { controlSuite } from "./control.js";
import { executionSuite } from "./execution.js";
import { operationsSuite } from "./operations.js";
import { operatorNotesSuite } from "./operator-notes.js";
import { runListingSuite } from "./run-listing.js";
import { runsSuite } from "./runs.js";
import { schedulesSuite } from "./schedules.js";
import { schedulingSuite } from "./scheduling.js";
import { retentionSuite } from "./retention.js";
import { startLeasesSuite } from "./start-leases.js";
import { stepCountsSuite } from "./step-counts.js";
import { versionsSuite } from "./versions.js";
import { childRunsSuite } from "./child-runs.js";
import { waitsSuite } from "./waits.js";

export type { ConformanceTarget } from "./harness.js";
export type { ConformanceRunner, ConformanceExpect, ConformanceMatchers, ConformanceAsyncMatchers, TestBody } from "./runner.js";
export { Gate, Harness, waitUntil } from "./harness.js";
export { describeArtifactStoreConformance, BAD_ARTIFACT_NAMES, type ArtifactStoreConformanceTarget } from "./artifacts.js";
export { describeProjectionConformance, BAD_PROJECTION_NAMES, type ProjectionConformanceTarget } from "./projections.js";
export { FaultInjector, InjectedStoreError, type FaultRule, type FaultableMethod, type InjectedFault } from "./fault-injector.js";

/**
 * Registers the store conformance suite (every behaviour a store adapter must
 * show) for `target` with the test runner: `runner`, or Jest's globals when omitted.
 */
export function describeStoreConformance(target: ConformanceTarget, runner?: ConformanceRunner): void {
  useRunner(runner, "describeStoreConformance");
  describe(`store conformance: ${target.name}`, () => {
    runsSuite(target);
    runListingSuite(target);
    executionSuite(target);
    schedulingSuite(target);
    operationsSuite(target);
    branchesSuite(target);
    waitsSuite(target);
    childRunsSuite(target);
    controlSuite(target);
    operatorNotesSuite(target);
    retentionSuite(target);
    startLeasesSuite(target);
    stepCountsSuite(target);
    versionsSuite(target);
    schedulesSuite(target);
  });
}

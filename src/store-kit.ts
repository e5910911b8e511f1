/**
 * `trellis/store-kit`: what the author of a store adapter needs, apart from
 * the application API. The `Store` contract and its records, and the rules
 * every adapter must apply the same way (the built-in SQLite and PostgreSQL
 * adapters use exactly these). Check an adapter with `trellis/conformance`.
 * See docs/architecture.md, "Adding a backend".
 *
 * @module
 */
export type * from "./store/store.js";
export {
  ACTIVE_STEP_STATUSES,
  dependencyOn,
  edgeState,
  FINISHED_RUN_STATUSES,
  finishedRunStatus,
  HANDLING_EDGES,
  isFinished,
  isUnlimited,
  nextTokenAt,
  refillTokens,
  type EdgeState,
} from "./store/graph-rules.js";
export { planSteps, readyAtFor, type PlannedStep, type RunLookup } from "./store/step-plan.js";
export { APPLIED, deliverEvents, GRAPH_CONFLICTS, STALE } from "./store/completion-rules.js";
export { assertRunAccepts, operatorNoteData, planRetry, runAccepts, type RetryCandidate, type RetryPlan, type RunAction } from "./store/operator-rules.js";
export { STORE_COMMANDS, type StoreCommand } from "./store/store-commands.js";
export { COUNTED_STEP_STATUSES, foldStepCounts, readyKindsSql, stepCountsSql, toKindCounts } from "./store/step-counts.js";
export { SCHEDULE_COLUMNS, scheduledEventData, toSchedule, type ScheduleRow } from "./store/schedule-rows.js";
export { MAX_NAME_BYTES, validateName } from "./names.js";

/**
 * The claim: lease up to `limit` ready steps across queues, first work first
 * (priority, then readiness, then insertion order), honouring each queue's
 * global limits. Ready rows are locked with `FOR UPDATE SKIP LOCKED`, so
 * concurrent claimers never wait for each other and never lease the same step.
 *
 * Only steps of the kinds the worker runs (`request.kinds`) are leased; a
 * queue whose head is of another kind costs one statement that leases nothing.
 *
 * The default queue, when it has no limits (the common case), is claimed from
 * in the same statement that finds the other queues with ready steps: one round
 * trip. Other queues follow, each in its own statement; a queue with a global
 * limit (`maxWorkers`, `rateLimit`) under a transaction-scoped advisory lock of
 * that queue only, so unlimited queues never serialise.
 */
import type pg from "pg";
import type { DependencyOn } from "../../types.js";
import { isUnlimited, nextTokenAt, refillTokens } from "../graph-rules.js";
import { toClaimedStep, toResultRecord } from "../rows.js";
import type { ClaimRequest, ClaimResult, ClaimedStep, ResultRecord } from "../store.js";
import { type Db, preparedName, TYPES } from "./connection.js";
import { CLAIM_DEPS, CLAIM_READY_AT, CLAIM_SEQ, CLAIM_TOKEN } from "./statements.js";
import type { Session } from "./transaction.js";

const DEFAULT_QUEUE = "default";

export class Claimer {
  readonly #s: Session;
  /** The last claim saw ready steps in queues other than the default one. */
  #othersWaiting = false;

  constructor(session: Session) {
    this.#s = session;
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.#s.write((db) => this.#claim(db, request));
  }

  async #claim(db: pg.Pool | Db, request: ClaimRequest): Promise<ClaimResult> {
    const s = this.#s;
    const { now } = request;
    let nextDueAt: number | undefined;
    const due = (t: number | null | undefined) => {
      if (t !== null && t !== undefined && (nextDueAt === undefined || t < nextDueAt)) nextDueAt = t;
    };
    const steps: Claimed[] = [];
    let heads: HeadCell[];
    /** The default queue was claimed from in the scan's statement: its heads are stale. */
    let defaultClaimed = false;
    if (isUnlimited(request.policyFor(DEFAULT_QUEUE))) {
      // Other queues waiting last time get half of the batch: a backlog in the
      // default queue must not starve them.
      const limit = this.#othersWaiting ? Math.ceil(request.limit / 2) : request.limit;
      const { rows } = await db.query<unknown[]>({
        text: s.sql.claimDefault,
        name: preparedName(s.sql.claimDefault),
        values: [request.workerId, now, now + request.leaseDuration, DEFAULT_QUEUE, limit, request.kinds ?? null],
        types: TYPES,
        rowMode: "array",
      });
      const [head] = rows;
      heads = (head?.[0] ?? []) as HeadCell[];
      due(head?.[1] as number | null);
      due(head?.[2] as number | null);
      due(head?.[3] as number | null);
      defaultClaimed = true;
      if (head?.[4] !== null && head?.[4] !== undefined) steps.push(...toClaimed(rows.map((row) => row.slice(4)), request));
    } else {
      const [head] = await s.rows<{ lease_min: number | null; wake_min: number | null; fire_min: number | null; queues: HeadCell[] | null }>(db, s.sql.readyQueues, [now]);
      due(head?.lease_min);
      due(head?.wake_min);
      due(head?.fire_min);
      heads = head?.queues ?? [];
    }
    // Per queue: its first claimable step (highest priority first), and its next readiness.
    const queues = new Map<string, QueueScan>();
    for (const [queue, priority, readyAt, seq, next] of heads) {
      due(next);
      let q = queues.get(queue);
      if (!q) queues.set(queue, (q = { queue }));
      if (readyAt !== null && seq !== null && (q.head === undefined || priority > q.head.priority)) q.head = { priority, readyAt, seq };
    }
    if (defaultClaimed) queues.delete(DEFAULT_QUEUE);
    // Claimable queues, first work first across them (priority, readiness, insertion order).
    const others = [...queues.values()].filter((q): q is Required<QueueScan> => q.head !== undefined).sort((a, b) => byReadiness(a.head, b.head));
    this.#othersWaiting = defaultClaimed && others.length > 0;
    for (const { queue } of others) {
      const remaining = request.limit - steps.length;
      if (remaining <= 0) break;
      if (isUnlimited(request.policyFor(queue))) steps.push(...(await this.#claimFrom(db, queue, remaining, request)));
      else {
        const limited = await this.#claimLimited(queue, remaining, request);
        due(limited.nextDueAt);
        steps.push(...limited.steps);
      }
    }
    steps.sort(byReadiness);
    const result: ClaimResult = { steps: steps.map((c) => c.claimed) };
    if (nextDueAt !== undefined) result.nextDueAt = nextDueAt;
    return result;
  }

  /** One statement: lock up to `limit` ready steps of `queue`, lease them, return them with their runs. */
  async #claimFrom(db: pg.Pool | Db, queue: string, limit: number, request: ClaimRequest): Promise<Claimed[]> {
    const { now, workerId } = request;
    const { rows } = await db.query<unknown[]>({
      text: this.#s.sql.claim,
      values: [workerId, now, now + request.leaseDuration, queue, limit, request.kinds ?? null],
      types: TYPES,
      rowMode: "array",
    });
    return toClaimed(rows, request);
  }

  /**
   * A queue with a global limit: claimed under that queue's advisory lock, so the
   * running count and the token bucket read here stay true until the commit.
   */
  async #claimLimited(queue: string, limit: number, request: ClaimRequest): Promise<{ steps: Claimed[]; nextDueAt?: number }> {
    const s = this.#s;
    const { now } = request;
    const policy = request.policyFor(queue);
    return s.tx({ queue }, async ({ db }) => {
      const [state] = await s.rows<{ running: number; tokens: number | null; refilled_at: number | null }>(db, s.sql.queueState, [queue]);
      let capacity = limit;
      if (Number.isFinite(policy.maxWorkers)) capacity = Math.min(capacity, policy.maxWorkers - (state?.running ?? 0));
      let tokens: number | undefined;
      let nextDueAt: number | undefined;
      if (policy.rateLimit) {
        const stored = state && state.tokens !== null && state.refilled_at !== null ? { tokens: state.tokens, refilledAt: state.refilled_at } : undefined;
        tokens = refillTokens(stored, policy.rateLimit, now);
        if (tokens < 1) nextDueAt = nextTokenAt(tokens, policy.rateLimit, now);
        capacity = Math.min(capacity, Math.floor(tokens));
      }
      const steps = capacity > 0 ? await this.#claimFrom(db, queue, capacity, request) : [];
      if (tokens !== undefined && steps.length > 0) await s.query(db, s.sql.putBucket, [queue, tokens - steps.length, now]);
      return nextDueAt === undefined ? { steps } : { steps, nextDueAt };
    });
  }
}

/** Claimed rows (CLAIMED_STEP_COLUMNS, lease token, dependencies, seq) to claimed steps, in claim order. */
function toClaimed(rows: unknown[][], request: ClaimRequest): Claimed[] {
  const { now, workerId } = request;
  const expiresAt = now + request.leaseDuration;
  const claimed = rows.map((row): Claimed => {
    const lease = { workerId, token: row[CLAIM_TOKEN] as string, acquiredAt: now, expiresAt };
    const deps = (row[CLAIM_DEPS] ?? []) as DependencyCell[];
    const step = toClaimedStep(row, lease, () => deps.map(([stepId, on]) => ({ stepId, on })));
    const results = prefetchedResults(deps);
    if (results) step.dependencyResults = results;
    return { claimed: step, priority: step.step.priority, readyAt: row[CLAIM_READY_AT] as number, seq: row[CLAIM_SEQ] as number };
  });
  // UPDATE ... RETURNING has no order: restore the claim's.
  return claimed.sort(byReadiness);
}

/** [dep_id, on_state, [status, result, records, emitted_ids, error, completed_at] | null] */
type DependencyCell = [string, DependencyOn, [string, string | null, string | null, string | null, string | null, number | null] | null];

/** The results of a claimed step's finished dependencies, read by the claim itself (no round trip per `dependencyResult`). */
function prefetchedResults(deps: DependencyCell[]): Map<string, ResultRecord> | undefined {
  let results: Map<string, ResultRecord> | undefined;
  for (const [stepId, , outcome] of deps) {
    if (!outcome) continue;
    const [status, result, records, emitted_ids, error, completed_at] = outcome;
    const record = toResultRecord(stepId, { status, result, records, emitted_ids, error, completed_at }, []);
    if (record) (results ??= new Map()).set(stepId, record);
  }
  return results;
}

/** [queue, priority, first claimable ready_at, its seq, next future ready_at] of one (queue, priority) with ready steps. */
type HeadCell = [string, number, number | null, number | null, number | null];

/** A queue with ready steps: its first claimable one, if any. */
interface QueueScan {
  queue: string;
  head?: ClaimOrder;
}

/** A place in claim order: higher priority first, then readiness, then insertion. */
interface ClaimOrder {
  priority: number;
  readyAt: number;
  seq: number;
}

/** A step just claimed, with its place in claim order. */
interface Claimed extends ClaimOrder {
  claimed: ClaimedStep;
}

const byReadiness = (a: ClaimOrder, b: ClaimOrder) => b.priority - a.priority || a.readyAt - b.readyAt || a.seq - b.seq;

/**
 * The worker side of a runtime: claims ready steps in batches, runs up to
 * `maxWorkers` of them at once, heartbeats their leases, writes their outcomes
 * in batches, and sleeps only when there is nothing to do.
 *
 * A worker runs `maxWorkers` steps at a time (p-limit) and holds up to 16x that
 * many leased when steps are short (see `#leaseTarget`): the leased-but-waiting
 * ones are a local buffer, so that claims carry batches (a durable queue's
 * throughput is decided by its batch sizes). A buffered step starts only while
 * fewer than UNCOMMITTED_PER_WORKER × maxWorkers steps are executing or waiting
 * for their outcome to be written: what a crash can make run twice is bounded.
 * A step's lease is heartbeated from the moment it is claimed; at shutdown the
 * buffered steps are given back at once, without running.
 *
 * The loop in brief:
 *   claim (as many steps as there are free places) → start each executor when
 *   an uncommitted place is free → each outcome joins the next completion batch
 *   → a written outcome frees its places and wakes the loop, which claims again.
 * While idle it sleeps until the earliest known due time (a retry's backoff, a
 * token refill, a lease expiry, a schedule's tick), a wake-up from this process (new run, retry,
 * freed slot), or the poll interval (work from other processes), whichever
 * comes first.
 */
import { setMaxListeners } from "node:events";
import pLimit from "p-limit";
import type { ResolvedConfig } from "../config.js";
import { queuePolicy } from "../config.js";
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { Registry } from "../executor.js";
import { isUnlimited } from "../store/graph-rules.js";
import type { ClaimedStep, CompletionResult, LeaseRef, StartLease, StepOutcome, Store, StoreEvent } from "../store/store.js";
import type { CycleResult } from "../types.js";
import type { WorkerTelemetry } from "../observability/worker-telemetry.js";
import { Batcher } from "./batcher.js";
import { drainExecutions, type Execution, type RunOnceOptions, type WorkerOptions } from "./execution.js";
import { ClaimableKinds } from "./claimable-kinds.js";
import { executeStep } from "./execute.js";
import { Heartbeat } from "./heartbeat.js";
import { LazyAbort } from "./lazy-abort.js";
import { countOutcome, writeOutcome } from "./outcome-writer.js";
import type { BuiltinServices } from "./builtins.js";
import type { StepServices } from "./executing-step.js";
import { Wakeup } from "./wakeup.js";

export type { RunOnceOptions, WorkerOptions } from "./execution.js";

/** Why a step's signal aborts when its run is canceled. */
export const canceledError = (runId: string) => new WorkflowError(ErrorCodes.invalidState, `run "${runId}" was canceled`);

/**
 * Steps a process may be executing or have executed without their outcome
 * committed: `UNCOMMITTED_PER_WORKER × maxWorkers`, all a crash can make run
 * twice (leased steps not yet started are given back untouched). Unbounded, a
 * store slower to write than handlers run would let executed work pile up.
 */
export const UNCOMMITTED_PER_WORKER = 4;

const emptyCycle = (): CycleResult => ({ claimed: 0, processed: 0, succeeded: 0, failed: 0, reclaimed: 0 });

export class Scheduler {
  readonly #store: Store;
  readonly #registry: Registry;
  readonly #kinds: ClaimableKinds;
  readonly #config: ResolvedConfig;
  readonly #services: StepServices & { builtins: BuiltinServices };
  readonly #telemetry: WorkerTelemetry;
  readonly #limit; // executors running at once: maxWorkers
  readonly #uncommitted; // steps executing or executed whose outcome is not written: UNCOMMITTED_PER_WORKER × maxWorkers
  readonly #inFlight = new Map<string, Execution>(); // by lease token
  /** The runOnce cycles under way. */
  readonly #cycles = new Set<Promise<CycleResult>>();
  readonly #completions: Batcher<StepOutcome, CompletionResult>;
  readonly #wakeup = new Wakeup();
  #reserved = 0; // slots promised to a claim or a start that has not returned yet
  #startReserved = 0; // the part of #reserved promised to starts
  #writing = 0; // executions done running whose outcome is being written (counted only with #overlapWrites)
  readonly #overlapWrites: boolean;
  #averageStepMs: number | undefined; // moving average of executor durations
  #nextDueAt: number | undefined;
  #lastReclaimAt = -Infinity;
  readonly #heartbeat: Heartbeat;
  #workers: Promise<void> | undefined;
  #loopSignal: AbortSignal | undefined; // the running loop's stop signal
  #unsubscribe: (() => void) | undefined;
  readonly #stop = new AbortController();
  /** Resolves on stop: a cycle waiting for its steps stops waiting (an abandoned step may never settle). */
  readonly #stopped = new Promise<void>((resolve) => this.#stop.signal.addEventListener("abort", () => resolve(), { once: true }));
  /** Called after each outcome this process writes (the runtime's run waiters look again). */
  onWritten: (() => void) | undefined;
  /** Fires the schedules due at `now` (with the due waits); true if it started a run. */
  fireSchedules: ((now: number) => Promise<boolean>) | undefined;

  constructor(store: Store, registry: Registry, config: ResolvedConfig, services: StepServices & { builtins: BuiltinServices }, telemetry: WorkerTelemetry) {
    this.#store = store;
    this.#registry = registry;
    this.#kinds = new ClaimableKinds(registry);
    this.#config = config;
    this.#services = services;
    this.#telemetry = telemetry;
    this.#limit = pLimit(config.maxWorkers);
    this.#uncommitted = pLimit(UNCOMMITTED_PER_WORKER * config.maxWorkers);
    // Outcome writes being retried wait on the stop signal: in an outage, every uncommitted step (no leak).
    setMaxListeners(this.#uncommitted.concurrency + 10, this.#stop.signal);
    // The uncommitted bound caps the outcomes in flight: share them among the writers.
    const writers = Math.max(1, store.writeConcurrency ?? 1);
    this.#overlapWrites = writers > 1;
    const held = () =>
      [...this.#inFlight.values()].map((e) => ({
        lease: e.lease,
        lost: (reason: WorkflowError) => {
          e.attempt?.leaseLost();
          e.controller.abort(reason);
        },
      }));
    this.#heartbeat = new Heartbeat(store, config, held);
    this.#completions = new Batcher((outcomes) => store.complete(outcomes), writers, Math.ceil(this.#uncommitted.concurrency / writers));
  }

  /**
   * A `StartLease` for `createRuns`, when this process's workers are running and
   * idle (no step leased here): the first steps of the new runs then start here
   * at once, with no claim in between. Undefined otherwise: busy workers take new
   * work in claim order, behind what is queued already. Places promised to
   * another start under way are not offered again; a claim under way does not
   * count: an idle loop's claim usually finds nothing, and should it find work,
   * the local buffer holds at most twice its target for a moment.
   * Call `adopt` with what the store leased, or `cancel` if the start failed:
   * the leases the store was about to take are then given back, since a start
   * whose answer was lost may have committed them (otherwise they would wait
   * for their lease to expire).
   */
  offerStartLease(): { request: StartLease; adopt(claimed: readonly ClaimedStep[]): void; cancel(): void } | undefined {
    if (!this.#workers || this.#loopSignal?.aborted || this.#inFlight.size > 0) return undefined;
    const limit = this.#leaseTarget() - this.#startReserved;
    if (limit <= 0) return undefined;
    this.#reserved += limit;
    this.#startReserved += limit;
    let open = true;
    const settle = () => {
      if (open) {
        this.#reserved -= limit;
        this.#startReserved -= limit;
      }
      open = false;
    };
    const attempted: LeaseRef[] = [];
    const queues = this.#config.queues;
    return {
      request: {
        workerId: this.#config.workerId,
        now: this.#config.clock(),
        leaseDuration: this.#config.leaseDuration,
        limit,
        // Limited queues go through the claim's checks: only unlimited ones are leased at start.
        eligible: (queue, kind) => isUnlimited(queuePolicy(queues, queue)) && this.#kinds.has(kind),
        onLease: (lease) => void attempted.push(lease),
      },
      adopt: (claimed) => {
        settle();
        if (claimed.length === 0) return;
        if (!this.#workers || this.#loopSignal?.aborted) {
          // The workers stopped meanwhile: give the leases back rather than run after the drain.
          this.#giveBack(claimed.map((c) => ({ runId: c.run.id, stepId: c.step.id, token: c.step.lease.token })));
          return;
        }
        for (const c of claimed) this.#start(c, undefined);
      },
      cancel: () => {
        settle();
        if (attempted.length > 0) this.#giveBack(attempted);
      },
    };
  }

  /**
   * Releases leases this process will not run. Should that fail too (the store
   * is down), the steps come back when their leases expire.
   */
  #giveBack(leases: LeaseRef[]): void {
    this.#store.release(leases, this.#config.clock()).then(
      () => this.wake(),
      (err) => this.#config.onError(err, "leases could not be given back: they will expire", { steps: leases.length }),
    );
  }

  /** New or newly ready work in this process: end the idle wait now. */
  wake(): void {
    this.#wakeup.notify();
  }

  /** Aborts the executions of a run in this process (after `cancelRun`). */
  abortRun(runId: string, reason: WorkflowError): void {
    for (const e of this.#inFlight.values()) {
      if (e.lease.runId !== runId) continue;
      e.attempt?.runCanceled();
      e.controller.abort(reason);
    }
  }

  #onStoreEvent(event: StoreEvent | undefined): void {
    if (event?.type === "canceled") this.abortRun(event.runId, canceledError(event.runId));
    if (event?.type === "canceled" || event?.type === "changed") return; // changed: for observers, nothing to claim
    if (event?.type === "due" && event.at < (this.#nextDueAt ?? Infinity)) this.#nextDueAt = event.at;
    this.wake();
  }

  /** One cycle: reclaim, then claim and run until what it started (and made ready) has settled. */
  runOnce(options: RunOnceOptions = {}): Promise<CycleResult> {
    const cycle = this.#cycle(options);
    // stop() waits for it: its store calls must finish before the store closes.
    this.#cycles.add(cycle);
    void cycle.catch(() => undefined).finally(() => this.#cycles.delete(cycle));
    return cycle;
  }

  async #cycle(options: RunOnceOptions): Promise<CycleResult> {
    const counters = emptyCycle();
    const maxSteps = options.maxSteps ?? Infinity;
    await this.#reclaim(counters);
    const mine = new Set<Promise<void>>();
    let settles = 0;
    // A close() while the cycle waits ends it: nothing more is claimed.
    while (!this.#stop.signal.aborted) {
      const settlesBefore = settles;
      // Past maxSteps the cycle claims nothing more and ends once its steps have settled.
      const room = maxSteps - counters.claimed;
      const started = room > 0 ? await this.#claimAndStart(counters, room) : [];
      for (const e of started) {
        mine.add(e.settled);
        void e.settled.then(() => {
          mine.delete(e.settled);
          settles++;
        });
      }
      if (mine.size === 0) {
        // A step that settled while the claim was under way (a store that claims
        // asynchronously) may have made work ready after the claim's snapshot:
        // claim once more before the cycle ends.
        if (room > 0 && settles !== settlesBefore) continue;
        return counters;
      }
      // Wait for one of this cycle's steps to settle: children it made ready may run in this cycle too.
      await Promise.race([...mine, this.#stopped]);
    }
    return counters;
  }

  startWorkers(options: WorkerOptions = {}): Promise<void> {
    if (this.#workers) {
      return Promise.reject(new WorkflowError(ErrorCodes.invalidState, "startWorkers is already running on this runtime"));
    }
    // Work made ready by other connections (other processes, other runtimes) wakes the loop too.
    this.#unsubscribe = this.#store.subscribe?.((event) => this.#onStoreEvent(event));
    this.#config.log.info({ maxWorkers: this.#config.maxWorkers, pollInterval: options.pollInterval ?? this.#config.pollInterval }, "workers started");
    const run = this.#loop(options).finally(() => {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
      this.#workers = undefined;
      this.#config.log.info({}, "workers stopped");
    });
    this.#workers = run;
    return run;
  }

  /**
   * Stops the worker loop (if any) and waits for every in-flight step, also those
   * `runOnce` started, so that nothing writes to the store after it is closed.
   */
  async stop(grace = 10_000): Promise<void> {
    this.#stop.abort();
    await this.#workers;
    await this.#drain(grace);
    // A runOnce cycle may be inside a store call (a reclaim, a claim): it ends once that returns.
    await Promise.allSettled(this.#cycles);
    this.#heartbeat.stop();
  }

  async #loop(options: WorkerOptions): Promise<void> {
    const signal = options.signal ? AbortSignal.any([options.signal, this.#stop.signal]) : this.#stop.signal;
    this.#loopSignal = signal;
    const pollInterval = options.pollInterval ?? this.#config.pollInterval;
    const clock = this.#config.clock;
    let cycles = 0;
    while (!signal.aborted && (options.maxCycles === undefined || cycles < options.maxCycles)) {
      cycles++;
      // What the loop slept for: a claim made now no longer reports it (a schedule's tick that has come).
      const dueBefore = this.#nextDueAt ?? Infinity;
      try {
        // Claim first: a wake-up for new work should not wait behind the reclaim
        // probe. What the reclaim (or a timer coming due) puts back wakes the
        // loop for another claim.
        await this.#claimAndStart();
        if (clock() - this.#lastReclaimAt >= pollInterval || Math.min(dueBefore, this.#nextDueAt ?? Infinity) <= clock()) await this.#reclaim();
      } catch (err) {
        // The store failed (disk full, database restarting, lock timeout): report it
        // and try again after a poll interval rather than dying.
        this.#config.onError(err, "the worker loop's store call failed: trying again after the poll interval", { pollInterval });
        await this.#wakeup.wait(pollInterval, signal);
        continue;
      }
      const now = clock();
      const sleep = Math.min(pollInterval, Math.max(0, (this.#nextDueAt ?? Infinity) - now));
      if (options.maxCycles !== undefined && cycles >= options.maxCycles) break;
      await this.#wakeup.wait(sleep, signal);
    }
    await this.#drain(options.shutdownGrace ?? 10_000);
  }

  /** Lets in-flight steps finish; past the grace period aborts them and gives their leases back. */
  #drain(grace: number): Promise<void> {
    return drainExecutions(this.#inFlight, grace, async (leases) => {
      try {
        await this.#store.release(leases, this.#config.clock());
      } catch (err) {
        // The leases will expire and be reclaimed instead.
        this.#config.onError(err, "leases could not be given back at shutdown: they will expire", { steps: leases.length });
      }
    });
  }

  /** Takes back expired leases, ends the waits whose time has come, and fires due schedules. */
  async #reclaim(counters?: CycleResult): Promise<void> {
    const now = this.#config.clock();
    this.#lastReclaimAt = now;
    const { reclaimed, failed } = await this.#store.reclaimExpired(now, this.#config.maxReclaims);
    this.#telemetry.reclaimed({ reclaimed, failed });
    if (counters) counters.reclaimed += reclaimed + failed;
    const woken = await this.#store.wakeDue(now);
    const fired = (await this.fireSchedules?.(now)) ?? false;
    if (reclaimed || woken || fired) this.wake();
  }

  /**
   * How many steps to hold leased: the running ones plus a local buffer sized by
   * how short steps are. Short steps need a deep buffer for claims and
   * completions to carry batches; long ones gain nothing from it, and a buffer
   * would only keep work from idle workers in other processes.
   */
  #leaseTarget(): number {
    const { maxWorkers } = this.#config;
    const ms = this.#averageStepMs;
    if (ms === undefined) return 2 * maxWorkers;
    if (ms < 2) return 16 * maxWorkers;
    if (ms < 20) return 2 * maxWorkers;
    return maxWorkers;
  }

  async #claimAndStart(counters?: CycleResult, cap = Infinity): Promise<Execution[]> {
    // On a store that writes concurrently, a step whose outcome is being written
    // no longer takes a place: the next claim overlaps that write.
    const free = Math.min(cap, this.#leaseTarget() - (this.#inFlight.size - this.#writing) - this.#reserved);
    if (free <= 0) return [];
    // Steps queued for an uncommitted slot keep the executors fed for two
    // rounds of writes: claim again only when fewer wait, so that a claim is one
    // large batch rather than a trickle of small ones, one per write.
    if (this.#uncommitted.pendingCount >= 2 * this.#uncommitted.concurrency) return [];
    this.#reserved += free;
    let claimed: ClaimedStep[];
    const now = this.#config.clock();
    const began = performance.now();
    try {
      const result = await this.#store.claim({
        workerId: this.#config.workerId,
        limit: free,
        now,
        leaseDuration: this.#config.leaseDuration,
        policyFor: (queue) => queuePolicy(this.#config.queues, queue),
        kinds: this.#kinds.list(),
      });
      claimed = result.steps;
      this.#nextDueAt = result.nextDueAt;
    } finally {
      this.#reserved -= free;
    }
    this.#telemetry.claimed(claimed, performance.now() - began, now);
    if (counters) counters.claimed += claimed.length;
    return claimed.map((c) => this.#start(c, counters));
  }

  #start(claimed: ClaimedStep, counters: CycleResult | undefined): Execution {
    const lease: LeaseRef = { runId: claimed.run.id, stepId: claimed.step.id, token: claimed.step.lease.token };
    const controller = new LazyAbort();
    const execution: Execution = { lease, controller, settled: Promise.resolve() };
    if (counters) execution.counters = counters;
    this.#inFlight.set(lease.token, execution);
    this.#heartbeat.ensure();
    // The uncommitted slot is held from the executor's start until the outcome is
    // written; the worker slot covers the executor only, so that the next
    // buffered step can start while outcomes are written in batches.
    execution.settled = this.#uncommitted(() => this.#run(execution, claimed))
      .catch((err: unknown) => this.#config.onError(err, "a step's execution failed unexpectedly", { runId: lease.runId, stepId: lease.stepId })) // #run handles its failures; this is the backstop
      .finally(() => {
        this.#inFlight.delete(lease.token);
        this.wake();
      });
    return execution;
  }

  /** Executes a started step and writes its outcome. */
  async #run(execution: Execution, claimed: ClaimedStep): Promise<void> {
    if (execution.abandoned) return;
    const outcome = await this.#limit(() => {
      if (execution.abandoned) return undefined;
      execution.started = true;
      const began = performance.now();
      const attempt = (execution.attempt = this.#telemetry.begin(claimed));
      const executor = this.#registry.get(claimed.step.kind);
      return attempt
        .run(() => executeStep(claimed, executor, this.#services, execution.controller, this.#config.clock, this.#config.limits.maxPayloadBytes, this.#config.setTimer))
        .finally(() => {
          const ms = performance.now() - began;
          this.#averageStepMs = this.#averageStepMs === undefined ? ms : 0.9 * this.#averageStepMs + 0.1 * ms;
        });
    });
    if (!outcome || execution.abandoned) {
      execution.attempt?.end(undefined, undefined);
      return; // the store may be closed by now, and the lease is gone anyway
    }
    let result: CompletionResult;
    // On a store that writes concurrently, the step gives up its place now, so
    // the next claim overlaps this write (see Store.writeConcurrency).
    const overlap = this.#overlapWrites;
    if (overlap) {
      this.#writing++;
      this.wake();
    }
    try {
      result = await writeOutcome(this.#completions, outcome, this.#wakeup, this.#stop.signal, this.#config.onError);
    } finally {
      if (overlap) this.#writing--;
    }
    execution.attempt?.end(outcome, result);
    countOutcome(execution.counters, outcome, result);
    this.onWritten?.();
  }
}

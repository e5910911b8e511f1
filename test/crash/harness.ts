/**
 * Shared harness of the crash tests: temp dirs, a store (a SQLite file, or a
 * fresh PostgreSQL schema) shared by the test process and its worker child
 * processes (test/fixtures/crash-worker.mjs, which runs the BUILT package from
 * dist/), and waiting for events with a deadline. The deadlines only bound how
 * long a broken test hangs; no assertion depends on timing.
 */
import { type ChildProcess, fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { afterEach, beforeAll, beforeEach } from "vitest";
import { type Runtime, type WorkflowPackage, newRuntime, sqliteStore } from "../../src/index.js";
import { postgresStore } from "../../src/postgres.js";
import type { StoreConfig } from "../../src/store/store.js";
import { pgUrl, uniqueSchema } from "../support/postgres.js";

export const WORKER_SCRIPT = fileURLToPath(new URL("../fixtures/crash-worker.mjs", import.meta.url));
const DIST_ENTRY = fileURLToPath(new URL("../../dist/index.js", import.meta.url));

/** The children run dist/: fail with a clear message when it was not built. */
export function assertBuilt(): void {
  if (!fs.existsSync(DIST_ENTRY)) throw new Error(`crash tests need the built package: run "npm run build" (missing ${DIST_ENTRY})`);
}

/** The stores every crash scenario runs on: `describe.each(STORE_KINDS)("on %s", (kind) => ...)`. */
export const STORE_KINDS = ["sqlite", "postgres"] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** Where a worker process finds the store (JSON: it crosses the process boundary). */
export type WorkerStore = { kind: "sqlite"; path: string } | { kind: "postgres"; url: string; schema: string };

export interface WorkerConfig {
  store: WorkerStore;
  workerId: string;
  logDir: string;
  mode?: "workers" | "once";
  probe?: "complete" | "hang" | "block-until-marker";
  outcome?: "result-and-child" | "result" | "permanent-error" | "retryable-error";
  marker?: string;
  /** "crash/unit" hangs (never returns) at this process's n-th start of it, after telling the parent. */
  hangAtStart?: number;
  /** SQLite file with the concurrency gauge of "crash/gauged" (see `createGauge`). */
  gauge?: string;
  /** This process's n-th "crash/gauged" tells the parent "paused", then waits inside the gauge for `marker`. */
  pauseGaugedAt?: number;
  /** How long a stopping worker lets its in-flight steps finish (startWorkers' shutdownGrace). */
  shutdownGrace?: number;
  /** Report the store's events ("store-event") and claims ("claim", "claimed" with the steps) over IPC. */
  reportStore?: boolean;
  /** Every outcome write (store.complete) waits this long first. */
  completeDelayMs?: number;
  leaseDuration?: number;
  pollInterval?: number;
  maxWorkers?: number;
  maxReclaims?: number;
  queues?: Record<string, { maxWorkers?: number }>;
  /** YAML definition files (trellis/declarative) this process registers. */
  declarative?: string[];
  /** Registers version v of package "orders" with its executors only (a rolling deploy); sends warnings as "warn". */
  packageVersion?: string;
  /** Runs of "crash-start" this process starts itself, with its workers idle (start leases). */
  startRuns?: string[];
}

export interface WorkerMessage {
  type: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A line of a worker's `${workerId}.starts.jsonl`. */
export interface StartLine {
  event: "start";
  runId: string;
  stepId: string;
  workerId: string;
  pid: number;
  attempt: number;
  reclaims: number;
  /** Epoch ms in the worker process (same clock as the test process). */
  at: number;
}

const DEFAULT_DEADLINE = 30_000;

/** One worker child process, with its IPC messages recorded in arrival order. */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly config: WorkerConfig;
  readonly messages: WorkerMessage[] = [];
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  output = "";
  readonly #listeners = new Set<() => void>();

  constructor(config: WorkerConfig) {
    this.config = config;
    this.child = fork(WORKER_SCRIPT, [JSON.stringify(config)], {
      execArgv: [], // not the test runner's flags
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    this.child.stdout?.on("data", (b: Buffer) => (this.output += b.toString()));
    this.child.stderr?.on("data", (b: Buffer) => (this.output += b.toString()));
    this.child.on("message", (m: WorkerMessage) => {
      this.messages.push(m);
      this.#notify();
    });
    this.exited = new Promise<Exit>((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exit = { code, signal };
        this.#notify();
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get errors(): WorkerMessage[] {
    return this.messages.filter((m) => m.type === "error");
  }

  /** The first message (already received or still to come) that matches. */
  waitFor(type: string, match: (m: WorkerMessage) => boolean = () => true, deadline = DEFAULT_DEADLINE): Promise<WorkerMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.find((m) => m.type === type && match(m));
        if (found) return done(() => resolve(found));
        if (this.exit) return done(() => reject(new Error(`${this.describe()} exited (${JSON.stringify(this.exit)}) before sending "${type}"\n${this.output}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`${this.describe()} sent no "${type}" within ${deadline} ms\n${this.output}`))), deadline);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        settle();
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Asks the worker to shut down cleanly (abort, drain, close) and waits for it to exit. */
  async stop(): Promise<Exit> {
    if (!this.exit && this.child.connected) this.child.send({ type: "stop" });
    return this.exited;
  }

  /** SIGKILL, then wait for the exit. */
  async kill(): Promise<Exit> {
    if (!this.exit) this.child.kill("SIGKILL");
    return this.exited;
  }

  describe(): string {
    return `worker ${this.config.workerId} (pid ${this.pid})`;
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }
}

/**
 * Per-test scratch space, the store, and the worker processes started on it;
 * `cleanup` kills leftovers and removes the directory (and the schema).
 */
export class Sandbox {
  readonly kind: StoreKind;
  readonly dir: string;
  readonly logDir: string;
  /** The store as the workers open it (for Postgres without a per-worker application_name). */
  readonly store: WorkerStore;
  readonly workers: WorkerProcess[] = [];

  constructor(kind: StoreKind) {
    this.kind = kind;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-crash-"));
    this.logDir = path.join(this.dir, "logs");
    fs.mkdirSync(this.logDir);
    this.store =
      kind === "sqlite" ? { kind, path: path.join(this.dir, "trellis.db") } : { kind, url: pgUrl(), schema: uniqueSchema("crash") };
  }

  /** The same store for a runtime in the test process. */
  storeConfig(): StoreConfig {
    const s = this.store;
    return s.kind === "sqlite" ? sqliteStore(s.path) : postgresStore({ connectionString: s.url, schema: s.schema });
  }

  /**
   * The application_name of a worker's Postgres connections: it finds them in
   * pg_stat_activity (at most 63 bytes; the schema name keeps it unique).
   */
  applicationName(workerId: string): string {
    if (this.store.kind !== "postgres") throw new Error("applicationName: not a Postgres sandbox");
    return `${this.store.schema}:${workerId}`;
  }

  spawn(config: Omit<WorkerConfig, "store" | "logDir">): WorkerProcess {
    let store = this.store;
    if (store.kind === "postgres") {
      const url = new URL(store.url);
      url.searchParams.set("application_name", this.applicationName(config.workerId));
      store = { ...store, url: url.toString() };
    }
    const w = new WorkerProcess({ store, logDir: this.logDir, ...config });
    this.workers.push(w);
    return w;
  }

  /** Every executor start logged by any worker (also by killed ones), in no particular order. */
  starts(): StartLine[] {
    return this.#lines().filter((l) => l.event === "start") as unknown as StartLine[];
  }

  /** Every line of every worker's starts log, parsed. */
  #lines(): Record<string, unknown>[] {
    return fs
      .readdirSync(this.logDir)
      .filter((f) => f.endsWith(".starts.jsonl"))
      .flatMap((f) => fs.readFileSync(path.join(this.logDir, f), "utf8").split("\n").filter(Boolean))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Lines other than starts (e.g. the fencing probe's "finish"). */
  events(event: string): Record<string, unknown>[] {
    return this.#lines().filter((l) => l.event === event);
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.kill()));
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (this.store.kind === "postgres") {
      const admin = new pg.Client({ connectionString: this.store.url });
      await admin.connect();
      try {
        // A killed worker's backends end when the server notices the closed
        // socket; do not let one that has not yet hold up the DROP.
        await admin.query("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name LIKE $1", [`${this.store.schema}:%`]);
        await admin.query(`DROP SCHEMA IF EXISTS "${this.store.schema}" CASCADE`);
      } finally {
        await admin.end();
      }
    }
  }
}

/** Polls `probe` until it returns a value other than undefined; throws past the deadline. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, deadline = DEFAULT_DEADLINE, every = 20): Promise<T> {
  const until = Date.now() + deadline;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * Per test: a fresh sandbox on a store of this kind and a runtime on it with
 * these packages. The test process only starts runs and reads state; workers
 * run in child processes. Call it inside `describe.each(STORE_KINDS)`.
 */
export function useCrashRuntime(kind: StoreKind, ...packages: WorkflowPackage[]): { readonly box: Sandbox; readonly rt: Runtime } {
  const env = {} as { box: Sandbox; rt: Runtime };
  beforeAll(assertBuilt);
  beforeEach(async () => {
    env.box = new Sandbox(kind);
    env.rt = await newRuntime({ store: env.box.storeConfig() });
    for (const pkg of packages) env.rt.registerPackage(pkg);
  });
  afterEach(async () => {
    try {
      await env.rt?.close();
    } finally {
      await env.box?.cleanup();
    }
  });
  return env;
}

/**
 * A concurrency gauge shared by processes: a SQLite file that "crash/gauged"
 * executors change in one write transaction on entry and on exit. `peak` is the
 * most executors ever inside at once, `peakProcesses` the most processes with
 * one inside at once.
 */
export class Gauge {
  readonly file: string;

  constructor(dir: string) {
    this.file = path.join(dir, "gauge.db");
    const db = new Database(this.file);
    db.exec(`CREATE TABLE gauge (current INTEGER NOT NULL, peak INTEGER NOT NULL, peak_processes INTEGER NOT NULL);
             INSERT INTO gauge VALUES (0, 0, 0);
             CREATE TABLE inside (pid INTEGER PRIMARY KEY, n INTEGER NOT NULL);`);
    db.close();
  }

  read(): { current: number; peak: number; peakProcesses: number } {
    const db = new Database(this.file, { readonly: true });
    try {
      return db.prepare("SELECT current, peak, peak_processes AS peakProcesses FROM gauge").get() as { current: number; peak: number; peakProcesses: number };
    } finally {
      db.close();
    }
  }
}

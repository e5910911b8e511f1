/**
 * Shared harness of the crash tests: temp dirs, worker child processes
 * (test/fixtures/crash-worker.mjs, which runs the BUILT package from dist/) and
 * waiting for events with a deadline. The deadlines only bound how long a broken
 * test hangs; no assertion depends on timing.
 */
import { type ChildProcess, fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, beforeEach } from "vitest";
import { type Runtime, type WorkflowPackage, newRuntime, sqliteStore } from "../../src/index.js";

export const WORKER_SCRIPT = fileURLToPath(new URL("../fixtures/crash-worker.mjs", import.meta.url));
const DIST_ENTRY = fileURLToPath(new URL("../../dist/index.js", import.meta.url));

/** The children run dist/: fail with a clear message when it was not built. */
export function assertBuilt(): void {
  if (!fs.existsSync(DIST_ENTRY)) throw new Error(`crash tests need the built package: run "npm run build" (missing ${DIST_ENTRY})`);
}

export interface WorkerConfig {
  db: string;
  workerId: string;
  logDir: string;
  mode?: "workers" | "once";
  probe?: "complete" | "hang" | "block-until-marker";
  outcome?: "result-and-child" | "result" | "permanent-error" | "retryable-error";
  marker?: string;
  leaseDuration?: number;
  pollInterval?: number;
  maxWorkers?: number;
  maxReclaims?: number;
}

export interface WorkerMessage {
  type: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
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

/** Per-test scratch space and the worker processes started in it; `cleanup` kills leftovers. */
export class Sandbox {
  readonly dir: string;
  readonly db: string;
  readonly logDir: string;
  readonly workers: WorkerProcess[] = [];

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-crash-"));
    this.db = path.join(this.dir, "trellis.db");
    this.logDir = path.join(this.dir, "logs");
    fs.mkdirSync(this.logDir);
  }

  spawn(config: Omit<WorkerConfig, "db" | "logDir">): WorkerProcess {
    const w = new WorkerProcess({ db: this.db, logDir: this.logDir, ...config });
    this.workers.push(w);
    return w;
  }

  /** Lines of `${workerId}.starts.jsonl` of every worker, parsed. */
  starts(): Record<string, unknown>[] {
    return fs
      .readdirSync(this.logDir)
      .filter((f) => f.endsWith(".starts.jsonl"))
      .flatMap((f) => fs.readFileSync(path.join(this.logDir, f), "utf8").split("\n").filter(Boolean))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.kill()));
    fs.rmSync(this.dir, { recursive: true, force: true });
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
 * Per test: a fresh sandbox and a runtime on its file with these packages. The
 * test process only starts runs and reads state; workers run in child processes.
 */
export function useCrashRuntime(...packages: WorkflowPackage[]): { readonly box: Sandbox; readonly rt: Runtime } {
  const env = {} as { box: Sandbox; rt: Runtime };
  beforeAll(assertBuilt);
  beforeEach(async () => {
    env.box = new Sandbox();
    env.rt = await newRuntime({ store: sqliteStore(env.box.db) });
    for (const pkg of packages) env.rt.registerPackage(pkg);
  });
  afterEach(async () => {
    await env.rt.close();
    await env.box.cleanup();
  });
  return env;
}

/**
 * WAL checkpoints on a background thread.
 *
 * In WAL mode a commit only appends to the `-wal` file; a checkpoint later copies
 * those pages into the database file and, with `synchronous=NORMAL`, fsyncs both.
 * SQLite runs that checkpoint inside whichever commit crosses
 * `wal_autocheckpoint` pages, so on the event loop's thread one claim or
 * completion in a hundred pays for all the copying and syncing: measured here,
 * it doubled the cost of a completion batch. A worker thread with its own
 * connection runs passive checkpoints instead (they never block writers or
 * readers), so the event loop only ever appends. The main connection keeps a
 * high auto-checkpoint threshold as a backstop, should this thread fall behind.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** WAL pages after which the main connection checkpoints by itself (about 64 MB). */
export const BACKSTOP_CHECKPOINT_PAGES = 16_000;

// Plain CommonJS, run with `eval`: it needs nothing but better-sqlite3, whose
// resolved path it receives, so it works from the ESM and the CJS build alike.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma("busy_timeout = 1000");
let timer;
const tick = () => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch { /* busy or closing: try again next tick */ }
  timer = setTimeout(tick, workerData.interval);
};
tick();
parentPort.on("message", (m) => {
  if (m !== "stop") return;
  clearTimeout(timer);
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
  db.close();
  parentPort.postMessage("stopped");
});
`;

export class Checkpointer {
  readonly #worker: Worker;
  #stopped: Promise<void> | undefined;

  constructor(file: string, intervalMs = 100) {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, interval: intervalMs } });
    // Never the reason a process stays alive; errors only mean fewer background checkpoints.
    this.#worker.unref();
    this.#worker.on("error", () => {});
  }

  /** Runs a last checkpoint and ends the thread. */
  stop(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      const done = () => resolve();
      this.#worker.once("message", done);
      this.#worker.once("exit", done);
      this.#worker.postMessage("stop");
    }).then(() => this.#worker.terminate().then(() => undefined));
    return this.#stopped;
  }
}

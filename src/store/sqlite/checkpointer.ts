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
 *
 * It checkpoints when asked, after a number of write transactions, and not on a
 * timer: once a checkpoint has emptied the WAL, the next commit restarts it and
 * fsyncs its header, so a timer would make the first commit after every idle
 * pause pay an fsync (about 1 ms here) on the event loop.
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
const checkpoint = () => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch { /* busy: the next request tries again */ }
};
parentPort.on("message", (m) => {
  if (m === "checkpoint") return checkpoint();
  if (m !== "stop") return;
  checkpoint();
  db.close();
  parentPort.postMessage("stopped");
});
`;

/** Write transactions between two checkpoint requests (a few MB of WAL at most). */
export const WRITES_PER_CHECKPOINT = 64;

export class Checkpointer {
  readonly #worker: Worker;
  #writes = 0;
  #stopped: Promise<void> | undefined;

  constructor(file: string) {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver } });
    // Never the reason a process stays alive; errors only mean fewer background checkpoints.
    this.#worker.unref();
    this.#worker.on("error", () => {});
  }

  /** Counts a write transaction; every so many, asks the thread for a checkpoint. */
  wrote(): void {
    if (++this.#writes < WRITES_PER_CHECKPOINT || this.#stopped) return;
    this.#writes = 0;
    this.#worker.postMessage("checkpoint");
  }

  /** Runs a last checkpoint and ends the thread. */
  stop(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      // Held while it stops: an unref'd thread (one still starting, on a busy
      // machine) would let a script whose last await is rt.close() exit before
      // the reply came (code 13: close never settled).
      this.#worker.ref();
      const done = () => resolve();
      this.#worker.once("message", done);
      this.#worker.once("exit", done);
      this.#worker.postMessage("stop");
    }).then(() => this.#worker.terminate().then(() => undefined));
    return this.#stopped;
  }
}

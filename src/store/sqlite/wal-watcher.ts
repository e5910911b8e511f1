/**
 * Wake-ups across processes without a server: every commit to a SQLite file in
 * WAL mode, by any connection of any process, writes to its `-wal` file, and
 * the kernel (inotify on Linux) reports that write to everyone watching it. A
 * worker told "the file changed" runs one claim; if nothing is ready, that
 * claim costs an index probe. Bursts of writes (one commit is several) are
 * folded into one notification per turn of the event loop.
 *
 * This is a hint, never a guarantee: where file events are not delivered (a
 * network file system, which SQLite's WAL does not support anyway), workers
 * still find new work at their next poll.
 */
import fs from "node:fs";

export class WalWatcher {
  readonly #listeners = new Set<() => void>();
  #watcher: fs.FSWatcher | undefined;
  #pending = false;

  constructor(walFile: string) {
    try {
      this.#watcher = fs.watch(walFile, { persistent: false }, () => this.#changed());
      this.#watcher.on("error", () => this.close());
    } catch {
      this.#watcher = undefined; // no file events here: polling alone
    }
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#listeners.clear();
  }

  #changed(): void {
    if (this.#pending) return;
    this.#pending = true;
    setImmediate(() => {
      this.#pending = false;
      for (const listener of this.#listeners) listener();
    });
  }
}

/**
 * Groups concurrent requests into batches: everything added while a batch is
 * being written goes into the next one, and a batch starts as soon as the
 * previous one is done (never on a timer, so a lone request pays no latency).
 * One batch is in flight at a time.
 */
export class Batcher<T, R> {
  readonly #write: (items: T[]) => Promise<R[]>;
  #queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  #draining = false;

  constructor(write: (items: T[]) => Promise<R[]>) {
    this.#write = write;
  }

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      // Let the other requests of this turn of the event loop join the first batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.#queue.length) {
        const batch = this.#queue;
        this.#queue = [];
        try {
          const results = await this.#write(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(results[i] as R));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.#draining = false;
    }
  }
}

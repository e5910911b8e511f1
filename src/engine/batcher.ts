/**
 * Groups concurrent requests into batches: everything added while a batch is
 * being written goes into the next one, and a batch starts as soon as a writer
 * is free (never on a timer, so a lone request pays no latency). Up to
 * `maxInFlight` batches are written at once (default 1): a store on a server
 * overlaps one batch's round trips with another's. A batch holds at most
 * `maxBatch` requests: when the requests in flight are bounded, that keeps
 * them spread over the writers instead of all in one batch while the others idle.
 */
export class Batcher<T, R> {
  readonly #write: (items: T[]) => Promise<R[]>;
  readonly #maxInFlight: number;
  #queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  #inFlight = 0;
  #scheduled = false;
  readonly #maxBatch: number;

  constructor(write: (items: T[]) => Promise<R[]>, maxInFlight = 1, maxBatch = Infinity) {
    this.#write = write;
    this.#maxInFlight = Math.max(1, maxInFlight);
    this.#maxBatch = Math.max(1, maxBatch);
  }

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    this.#scheduled = true;
    // Let the other requests of this turn of the event loop join the batch.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    let batch = this.#queue;
    if (batch.length > this.#maxBatch) {
      this.#queue = batch.slice(this.#maxBatch);
      batch = batch.slice(0, this.#maxBatch);
    } else {
      this.#queue = [];
    }
    this.#inFlight++;
    this.#schedule(); // what is left goes to the next free writer
    try {
      const results = await this.#write(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i] as R));
    } catch (err) {
      for (const b of batch) b.reject(err);
    } finally {
      this.#inFlight--;
      this.#schedule();
    }
  }
}

/**
 * An AbortController made only when someone reads its signal. Most executors
 * never look at `step.signal`, and creating a controller and signal per step is
 * a measurable share of a short step's cost; an abort requested before the
 * signal is read is remembered and applied when it is.
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

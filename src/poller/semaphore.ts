/** Raised to a probe that was still waiting for a slot when its worker stopped. */
export class ProbeCancelledError extends Error {
  constructor() {
    super('the poller stopped before this probe got a slot');
    this.name = 'ProbeCancelledError';
  }
}

interface Waiter {
  grant(): void;
  cancel(): void;
  signal: AbortSignal | undefined;
}

/** Bounds how many probes are in flight across all surfaces. The limit can change on reload. */
export class Semaphore {
  private active = 0;
  /** Waiters in order from `head`; an index, because Array#shift copies the queue each time. */
  private waiting: Waiter[] = [];
  private head = 0;
  private sweepScheduled = false;

  constructor(private limit: number) {}

  setLimit(limit: number): void {
    this.limit = limit;
    this.drain();
  }

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length - this.head;
  }

  /**
   * Waits for a slot. A waiter whose signal has aborted never gets one: cancelAborted() takes it out
   * of the queue, so that stopping the poller does not start probes that were only queued.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw new ProbeCancelledError();
    if (this.active < this.limit) {
      this.active++;
    } else {
      await new Promise<void>((resolve, reject) => {
        this.waiting.push({ grant: resolve, cancel: () => reject(new ProbeCancelledError()), signal });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.drain();
    };
  }

  /**
   * Cancels every waiter whose signal has aborted. Called by whoever aborts, instead of a listener
   * per waiter (at thousands of queued probes a round those listeners were a measurable cost); calls
   * made in one tick, as when every worker stops at once, share one pass over the queue.
   */
  cancelAborted(): void {
    if (this.sweepScheduled) return;
    this.sweepScheduled = true;
    queueMicrotask(() => {
      this.sweepScheduled = false;
      const queue = this.waiting.slice(this.head);
      const cancelled = queue.filter((waiter) => waiter.signal?.aborted);
      if (cancelled.length === 0) return;
      this.waiting = queue.filter((waiter) => !waiter.signal?.aborted);
      this.head = 0;
      for (const waiter of cancelled) waiter.cancel();
    });
  }

  private drain(): void {
    while (this.active < this.limit && this.queued > 0) {
      const waiter = this.takeFirst();
      // Aborted since it queued, and the sweep has not run yet.
      if (waiter.signal?.aborted) {
        waiter.cancel();
        continue;
      }
      this.active++;
      waiter.grant();
    }
  }

  private takeFirst(): Waiter {
    const waiter = this.waiting[this.head] as Waiter;
    this.head++;
    // Drop the taken part once it is most of the array, so the queue's memory stays bounded.
    if (this.head === this.waiting.length || (this.head >= 1024 && this.head * 2 >= this.waiting.length)) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    return waiter;
  }
}

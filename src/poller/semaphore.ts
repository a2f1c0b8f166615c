/** Raised to a probe that was still waiting for a slot when its worker stopped. */
export class ProbeCancelledError extends Error {
  constructor() {
    super('the poller stopped before this probe got a slot');
    this.name = 'ProbeCancelledError';
  }
}

/** Bounds how many probes are in flight across all surfaces. The limit can change on reload. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<{ grant: () => void; cancel: () => void }> = [];

  constructor(private limit: number) {}

  setLimit(limit: number): void {
    this.limit = limit;
    this.drain();
  }

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Waits for a slot. A waiter whose signal aborts leaves the queue, so that stopping the poller
   * does not start probes that were only queued.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw new ProbeCancelledError();
    if (this.active < this.limit) {
      this.active++;
    } else {
      await new Promise<void>((resolve, reject) => {
        const waiter = {
          grant: () => {
            signal?.removeEventListener('abort', waiter.cancel);
            resolve();
          },
          cancel: () => {
            const index = this.waiting.indexOf(waiter);
            if (index >= 0) this.waiting.splice(index, 1);
            reject(new ProbeCancelledError());
          },
        };
        signal?.addEventListener('abort', waiter.cancel, { once: true });
        this.waiting.push(waiter);
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

  private drain(): void {
    while (this.active < this.limit && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()?.grant();
    }
  }
}

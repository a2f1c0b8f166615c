/** Raised to a probe that was still waiting for a slot when its worker stopped. */
export class ProbeCancelledError extends Error {
  constructor() {
    super('the poller stopped before this probe got a slot');
    this.name = 'ProbeCancelledError';
  }
}

/**
 * Where a probe ran: `queue`, in one of the `limit` slots (possibly after waiting for it); `slow`,
 * outside them, because its surface timed out last time, it waited its longest, or a single-surface
 * force-poll asked for it now.
 */
export type SlotLane = 'queue' | 'slow';

export interface Slot {
  lane: SlotLane;
  /** How long the probe waited for its slot. */
  waitedMs: number;
  release(): void;
}

export interface AcquireOptions {
  signal?: AbortSignal;
  /** The longest this probe waits for a slot; past it, it runs in the slow lane. */
  maxWaitMs?: number;
  /** Run in the slow lane at once: the surface hung last time, or a person asked for it now. */
  slow?: boolean;
  /** While the probe waits, `expedite` moves it to the slow lane at once (a force-poll joining it). */
  onQueued?: (expedite: () => void) => void;
}

export interface SlotUsage {
  inUse: number;
  slow: number;
  queued: number;
}

interface Waiter {
  grant(lane: SlotLane): void;
  cancel(): void;
  signal: AbortSignal | undefined;
  expiresAt: number;
  settled: boolean;
}

/**
 * Bounds how many probes are in flight across all surfaces, without letting hanging targets starve
 * healthy ones: a probe waits for a slot at most `maxWaitMs` (one probe timeout), and surfaces that
 * timed out last time do not take a slot at all. The slow lane is bounded by the registry: a
 * surface has at most one probe in flight. The limit can change on reload.
 */
export class Semaphore {
  private active = 0;
  private slowActive = 0;
  /** Waiters in order from `head`; an index, because Array#shift copies the queue each time. */
  private waiting: Waiter[] = [];
  private head = 0;
  private pending = 0;
  private sweepScheduled = false;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private limit: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  setLimit(limit: number): void {
    this.limit = limit;
    this.drain();
  }

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.pending;
  }

  usage(): SlotUsage {
    return { inUse: this.active, slow: this.slowActive, queued: this.pending };
  }

  /**
   * Waits for a slot. A waiter whose signal has aborted never gets one: cancelAborted() takes it out
   * of the queue, so that stopping the poller does not start probes that were only queued.
   */
  async acquire(options: AcquireOptions = {}): Promise<Slot> {
    const { signal, maxWaitMs = Number.POSITIVE_INFINITY } = options;
    if (signal?.aborted) throw new ProbeCancelledError();
    const askedAt = this.now();
    let lane: SlotLane;
    if (options.slow) {
      lane = 'slow';
      this.slowActive++;
    } else if (this.active < this.limit) {
      lane = 'queue';
      this.active++;
    } else {
      lane = await this.enqueue(signal, askedAt + maxWaitMs, options.onQueued);
    }
    return this.slot(lane, this.now() - askedAt);
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
      for (let index = this.head; index < this.waiting.length; index++) {
        const waiter = this.waiting[index] as Waiter;
        if (!waiter.settled && waiter.signal?.aborted) this.settle(waiter).cancel();
      }
    });
  }

  private enqueue(
    signal: AbortSignal | undefined,
    expiresAt: number,
    onQueued: AcquireOptions['onQueued'],
  ): Promise<SlotLane> {
    return new Promise<SlotLane>((resolve, reject) => {
      const waiter: Waiter = {
        grant: resolve,
        cancel: () => reject(new ProbeCancelledError()),
        signal,
        expiresAt,
        settled: false,
      };
      this.waiting.push(waiter);
      this.pending++;
      onQueued?.(() => this.runSlow(waiter));
      this.armExpiry();
    });
  }

  private slot(lane: SlotLane, waitedMs: number): Slot {
    let released = false;
    return {
      lane,
      waitedMs,
      release: () => {
        if (released) return;
        released = true;
        if (lane === 'slow') {
          this.slowActive--;
          return;
        }
        this.active--;
        this.drain();
      },
    };
  }

  private settle(waiter: Waiter): Waiter {
    waiter.settled = true;
    this.pending--;
    if (this.pending === 0) {
      clearTimeout(this.expiryTimer);
      this.expiryTimer = undefined;
    }
    return waiter;
  }

  private runSlow(waiter: Waiter): void {
    if (waiter.settled) return;
    this.settle(waiter);
    this.slowActive++;
    waiter.grant('slow');
  }

  /** One timer, for the oldest waiter: waits are FIFO and share one maximum, so it expires first. */
  private armExpiry(): void {
    if (this.expiryTimer !== undefined) return;
    const oldest = this.peekFirst();
    if (!oldest || !Number.isFinite(oldest.expiresAt)) return;
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = undefined;
        this.expireOldest();
      },
      Math.max(0, oldest.expiresAt - this.now()),
    );
  }

  private expireOldest(): void {
    const now = this.now();
    for (let oldest = this.peekFirst(); oldest && oldest.expiresAt <= now; oldest = this.peekFirst()) {
      this.takeFirst();
      if (oldest.signal?.aborted) this.settle(oldest).cancel();
      else this.runSlow(oldest);
    }
    this.armExpiry();
  }

  private drain(): void {
    for (let waiter = this.peekFirst(); waiter && this.active < this.limit; waiter = this.peekFirst()) {
      this.takeFirst();
      this.settle(waiter);
      // Aborted since it queued, and the sweep has not run yet.
      if (waiter.signal?.aborted) {
        waiter.cancel();
        continue;
      }
      this.active++;
      waiter.grant('queue');
    }
  }

  /** The oldest waiter still waiting; settled ones (expedited, cancelled) are dropped on the way. */
  private peekFirst(): Waiter | undefined {
    while (this.head < this.waiting.length && (this.waiting[this.head] as Waiter).settled) this.takeFirst();
    return this.waiting[this.head];
  }

  private takeFirst(): void {
    this.head++;
    // Drop the taken part once it is most of the array, so the queue's memory stays bounded.
    if (this.head === this.waiting.length || (this.head >= 1024 && this.head * 2 >= this.waiting.length)) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * When a piece of work must be over: one unref'd timer, and the callbacks of whoever is still
 * working when it passes. It stands in for an AbortController + AbortSignal on the probe path:
 * building one and adding and removing its listeners cost ~7 % of a loopback probe's CPU
 * (bench/RESULTS.md), and a probe needs nothing else from it.
 */
export class Deadline {
  private passed = false;
  private readonly timer: NodeJS.Timeout;
  private watchers: Array<() => void> = [];

  constructor(readonly ms: number) {
    this.timer = setTimeout(() => this.pass(), ms);
    this.timer.unref();
  }

  get expired(): boolean {
    return this.passed;
  }

  /** Calls `onExpiry` once when the deadline passes (right away if it has). */
  watch(onExpiry: () => void): void {
    if (this.passed) onExpiry();
    else this.watchers.push(onExpiry);
  }

  unwatch(onExpiry: () => void): void {
    const index = this.watchers.indexOf(onExpiry);
    if (index >= 0) this.watchers.splice(index, 1);
  }

  /** The work is over before the deadline: drops the timer and every watcher. */
  settle(): void {
    clearTimeout(this.timer);
    this.watchers = [];
  }

  private pass(): void {
    this.passed = true;
    const watchers = this.watchers;
    this.watchers = [];
    for (const onExpiry of watchers) onExpiry();
  }
}

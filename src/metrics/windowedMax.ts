/**
 * The largest value noted over roughly the last `windowMs`, kept in a few time buckets. Reading
 * does not reset it, so every scraper (two Prometheus replicas, an extra OpenMetrics scrape) sees
 * the same worst case.
 */
export class WindowedMax {
  private readonly buckets: number[];
  private readonly bucketMs: number;
  private currentBucketStart: number;
  private currentIndex = 0;

  constructor(
    windowMs = 60_000,
    bucketCount = 6,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.buckets = new Array<number>(bucketCount).fill(0);
    this.bucketMs = windowMs / bucketCount;
    this.currentBucketStart = this.now();
  }

  note(value: number): void {
    this.rotate();
    this.buckets[this.currentIndex] = Math.max(this.buckets[this.currentIndex] ?? 0, value);
  }

  max(): number {
    this.rotate();
    return Math.max(...this.buckets);
  }

  private rotate(): void {
    const elapsedBuckets = Math.floor((this.now() - this.currentBucketStart) / this.bucketMs);
    if (elapsedBuckets <= 0) return;
    for (let step = 1; step <= Math.min(elapsedBuckets, this.buckets.length); step++) {
      this.buckets[(this.currentIndex + step) % this.buckets.length] = 0;
    }
    this.currentIndex = (this.currentIndex + elapsedBuckets) % this.buckets.length;
    this.currentBucketStart += elapsedBuckets * this.bucketMs;
  }
}

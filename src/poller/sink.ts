import type { ProbeOutcome } from '../core/result.js';
import type { SurfaceLabels, SurfaceRouting } from '../core/surface.js';
import type { RateBudget } from '../providers/contract.js';
import type { SlotLane, SlotUsage } from './semaphore.js';

/**
 * Where the poller reports what it saw: one outcome type per probe, plus the state of its workers.
 * The metrics layer implements it; the poller knows nothing of exposition formats.
 */
export interface PollerSink {
  recordProbe(labels: SurfaceLabels, outcome: ProbeOutcome): void;
  /**
   * A failure awaiting its confirming probe: it counts (errors, latency) but the published state
   * stays as it was, so a single lost probe never reaches the alert rules.
   */
  recordUnconfirmedProbe(labels: SurfaceLabels, outcome: ProbeOutcome): void;
  /** Severity and labels of the surface, for `surface_info`. */
  setRouting(labels: SurfaceLabels, routing: SurfaceRouting): void;
  setMaintenance(labels: SurfaceLabels, inMaintenance: boolean): void;
  setWorkerAlive(labels: SurfaceLabels, alive: boolean): void;
  /** The surface left the registry: every series of it goes. */
  removeSurface(labels: SurfaceLabels): void;
  countCrash(scope: 'probe' | 'worker'): void;
  setSurfaceCounts(countsByEnv: ReadonlyMap<string, number>): void;
  setRateLimitRemaining(budget: RateBudget, remaining: number): void;
  setRateLimitQuota(budget: RateBudget, quota: number): void;
  /** How long a probe waited for its slot, and in which lane it ran. */
  observeSlotWait(lane: SlotLane, seconds: number): void;
  /** Read at each scrape: probes holding a slot, in the slow lane, and waiting for a slot. */
  watchSlots(read: () => SlotUsage): void;
}

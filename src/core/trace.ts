import type { ProbeResult } from './result.js';

export interface ProbeSpanAttributes {
  env: string;
  surface: string;
  provider: string;
}

/**
 * The trace a span opened by a ProbeTracer belongs to, handed down explicitly to whatever runs
 * inside it. Opaque to the poller; undefined when tracing is off. Passing it by hand instead of
 * through an async context manager spares every promise in the process an async hook.
 */
export type TraceParent = { readonly opaqueTraceParent: unique symbol } | undefined;

/**
 * How the poller reports probes to a tracing backend. The poller calls it around every probe
 * and every force-poll; the no-op version is used when tracing is off.
 */
export interface ProbeTracer {
  traceProbe(
    attributes: ProbeSpanAttributes,
    run: (trace: TraceParent) => Promise<ProbeResult>,
    parent?: TraceParent,
  ): Promise<{ result: ProbeResult; traceId?: string }>;
  traceForcePoll<T>(run: (trace: TraceParent) => Promise<T>): Promise<T>;
  /**
   * Set by a tracer whose spans leave later, in batches: calls `listener` with the probe spans of
   * each batch once the collector took it (`exported`) or it was lost, so that an
   * exemplar names only a trace that exists. Returns the unsubscribe. Without it, a returned trace
   * id counts as exported.
   */
  onProbeSpansSettled?(listener: ProbeSpansSettled): () => void;
}

/**
 * A probe span by its trace and its surface: a force-poll's probes share one trace id, and their
 * spans may leave in different batches.
 */
export interface SettledProbeSpan {
  traceId: string;
  env: string;
  surface: string;
  provider: string;
}

export type ProbeSpansSettled = (probes: readonly SettledProbeSpan[], exported: boolean) => void;

export const noopTracer: ProbeTracer = {
  traceProbe: async (_attributes, run) => ({ result: await run(undefined) }),
  traceForcePoll: (run) => run(undefined),
};

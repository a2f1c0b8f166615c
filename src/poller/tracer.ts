import type { ProbeResult } from '../probes/types.js';

export interface ProbeSpanAttributes {
  env: string;
  surface: string;
  provider: string;
}

/**
 * How the poller reports probes to a tracing backend. The poller calls it around every probe
 * and every force-poll; the no-op version is used when tracing is off.
 */
export interface ProbeTracer {
  traceProbe(
    attributes: ProbeSpanAttributes,
    run: () => Promise<ProbeResult>,
  ): Promise<{ result: ProbeResult; traceId?: string }>;
  traceForcePoll<T>(run: () => Promise<T>): Promise<T>;
}

export const noopTracer: ProbeTracer = {
  traceProbe: async (_attributes, run) => ({ result: await run() }),
  traceForcePoll: (run) => run(),
};

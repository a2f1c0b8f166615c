import type { Logger } from 'pino';
import type { LoadedRegistry, RegisteredSurface } from '../config/load.js';
import type { Env } from '../core/env.js';
import type { ProbeOutcome } from '../core/result.js';
import { VERSION } from '../core/version.js';
import { ExporterMetrics } from '../metrics/metrics.js';
import { Poller } from '../poller/poller.js';
import type { OnlineFinding } from '../providers/online.js';
import { HttpClient, type HttpExchange } from '../transport/client.js';
import { checkOnline } from './online.js';

/**
 * Probes each surface once with a fresh poller, so nothing is cached from a previous run, and
 * hands back every HTTP exchange each probe made (`surface-exporter probe`).
 */
export async function probeEachOnce(
  registry: LoadedRegistry,
  options: { env: Env; log: Logger },
): Promise<Array<{ surface: RegisteredSurface; outcome: ProbeOutcome; exchanges: HttpExchange[] }>> {
  const http = new HttpClient({ userAgent: `surface-exporter/${VERSION}` });
  const poller = new Poller(registry, {
    sink: new ExporterMetrics({ version: VERSION, defaultMetrics: false }),
    log: options.log,
    env: options.env,
    http,
  });
  try {
    return await Promise.all(
      registry.surfaces.map(async (surface) => {
        const exchanges: HttpExchange[] = [];
        const outcome = await poller.probeOnce(surface.key, (exchange) => exchanges.push(exchange));
        return { surface, outcome, exchanges };
      }),
    );
  } finally {
    await http.close();
  }
}

/** `check-config --online` with a client of its own, closed when the checks end. */
export async function runOnlineChecks(
  registry: LoadedRegistry,
  options: { env: Env; timeoutMs: number },
): Promise<OnlineFinding[]> {
  const http = new HttpClient({ userAgent: `surface-exporter/${VERSION} check-config` });
  try {
    return await checkOnline(registry, { env: options.env, http, timeoutMs: options.timeoutMs });
  } finally {
    await http.close();
  }
}

// The one file of the status page that knows the poller.
import type { Poller } from '../poller/poller.js';
import type { StatusSource, SurfaceReading } from './source.js';

export interface PollerSourceOptions {
  pollerEnabled: boolean;
  now: () => number;
  /** What a credential watch knows of the credentials a surface uses, if one runs. */
  credentialsOf?: (env: string, surface: string) => ReadonlyArray<{ expires_at: string | null }> | undefined;
}

export function pollerStatusSource(poller: Poller, options: PollerSourceOptions): StatusSource {
  const { credentialsOf } = options;
  return {
    surfaces: () => {
      const surfaces: SurfaceReading[] = poller.status().surfaces;
      if (!credentialsOf) return surfaces;
      return surfaces.map((surface) => {
        const expiry = earliestExpiry(credentialsOf(surface.env, surface.surface));
        return expiry === undefined ? surface : { ...surface, credential_expires_at: expiry };
      });
    },
    heartbeat: () => ({ enabled: options.pollerEnabled, ...poller.health() }),
    staleAfterSeconds: () => poller.config.stale_after_seconds,
    intervalSeconds: () => poller.config.interval_seconds,
    now: options.now,
  };
}

/** The tile shows the credential that runs out first; ISO strings of one format sort by time. */
function earliestExpiry(
  credentials: ReadonlyArray<{ expires_at: string | null }> | undefined,
): string | undefined {
  let earliest: string | undefined;
  for (const { expires_at } of credentials ?? [])
    if (expires_at !== null && (earliest === undefined || expires_at < earliest)) earliest = expires_at;
  return earliest;
}

import { z } from 'zod';
import { readSecret } from '../../core/env.js';
import { degraded, down, pending, skipped, up } from '../../core/result.js';
import { ENV_VAR_NAME, surfaceBase } from '../../core/surface.js';
import { defineProvider } from '../contract.js';
import { PUSH_CODE_DOCS } from './codes.js';

// As every seconds field of the registry: Node fires a timer beyond 2^31-1 ms at once.
const MAX_HEARTBEAT_SECONDS = 86_400;

export const pushSurface = surfaceBase
  .extend({
    provider: z
      .literal('push')
      .describe(
        'A job that reports itself (Heroku Scheduler, a secret sync): POST /api/push/{env}/{surface}. No outbound call.',
      ),
    heartbeat_seconds: z
      .number()
      .positive()
      .max(MAX_HEARTBEAT_SECONDS)
      .describe(
        'The longest gap between two pushes before the surface is DOWN with `push_missed` (monotonic clock); at most 86400. Set it above the job’s period. Required.',
      ),
    token_env: ENV_VAR_NAME.describe(
      'Environment variable holding the bearer token a push must carry (`Authorization: Bearer …`). Required.',
    ),
  })
  .strict();

export type PushSurface = z.infer<typeof pushSurface>;

export const pushProvider = defineProvider({
  name: 'push',
  schema: pushSurface,
  codes: PUSH_CODE_DOCS,
  // Only reads what the job pushed: never a request, so ctx.request is not used.
  async probe(surface, ctx) {
    const token = readSecret(ctx.env, surface.token_env);
    if (!token.ok) return skipped(token);
    const heartbeatMs = surface.heartbeat_seconds * 1000;
    const now = ctx.monotonic();
    const last = ctx.lastPush();
    if (!last) {
      const waitedMs = now - ctx.surfaceSinceMonotonic;
      const missed = down(
        'push_missed',
        `no push since the exporter started watching ${seconds(waitedMs)} ago`,
      );
      // Within its first heartbeat a silent job may simply not be due yet: nothing to publish.
      return waitedMs < heartbeatMs ? pending(missed) : missed;
    }
    const ageMs = now - last.receivedAtMonotonic;
    if (ageMs > heartbeatMs)
      return down(
        'push_missed',
        `last push ${seconds(ageMs)} ago, over heartbeat_seconds ${surface.heartbeat_seconds}`,
      );
    const said = [
      last.durationSeconds !== undefined ? `ran ${last.durationSeconds} s` : undefined,
      last.detail,
    ]
      .filter(Boolean)
      .join('; ');
    const text = `job pushed ${last.status} ${seconds(ageMs)} ago${said ? ` (${said})` : ''}`;
    return last.status === 'ok' ? up(text) : degraded('push_failed', text);
  },
  target: (surface) => `push, heartbeat ${surface.heartbeat_seconds} s`,
  credentials: (surface) => [surface.token_env],
  pushTokenEnv: (surface) => surface.token_env,
});

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

import type { CoreCode } from '../../core/codes.js';
import { httpStatusCode } from '../../core/codes.js';
import type { AccessServiceToken } from '../../core/env.js';
import { degraded, type ProbeResult, up } from '../../core/result.js';
import { type HttpResponse, headerValue } from '../../transport/client.js';
import type { ProbeContext } from '../contract.js';
import { accessHeaders, judgeEdge } from './accessGate.js';
import { transportFailure } from './api.js';
import type { AccessGateCode, HealthCode, TransportCode } from './codes.js';
import { targetEvidence } from './evidence.js';

export interface HealthCheck {
  url: string;
  /** Undefined: any 2xx is healthy. */
  expectStatus?: number;
  accessToken?: AccessServiceToken;
  /** The surface's access_deny_url: a redirect there is Access refusing the token. */
  accessDenyUrl?: string;
  caFile?: string;
  freshConnection?: boolean;
  /**
   * Set by a caller whose URL may redirect for reasons of its own (a herokuapp.com URL sent to the
   * app's custom domain): a 3xx then names the Location host and adds this hint to the detail.
   */
  redirectHint?: string;
}

/** GET a health URL and judge it; shared by `http` and the app check of `heroku_app`. */
export async function checkHealth(
  ctx: ProbeContext,
  check: HealthCheck,
): Promise<ProbeResult<HealthCode | AccessGateCode | TransportCode | CoreCode>> {
  const outcome = await ctx.request({
    url: check.url,
    headers: accessHeaders(check.accessToken),
    caFile: check.caFile,
    freshConnection: check.freshConnection,
  });
  if (outcome.kind === 'failure') return transportFailure(outcome, 'health_no_response', 'health check');
  return { ...judgeHealth(check, outcome), ...targetEvidence(outcome) };
}

function judgeHealth(
  check: HealthCheck,
  outcome: HttpResponse,
): ProbeResult<HealthCode | AccessGateCode | TransportCode | CoreCode> {
  const edge = judgeEdge(outcome, {
    tokenSent: check.accessToken !== undefined,
    accessDenyUrl: check.accessDenyUrl,
  });
  if (edge) return edge;
  const healthy =
    check.expectStatus === undefined
      ? outcome.status >= 200 && outcome.status < 300
      : outcome.status === check.expectStatus;
  if (!healthy) {
    const expected = check.expectStatus === undefined ? 'a 2xx' : String(check.expectStatus);
    return degraded(
      httpStatusCode('health_http_', outcome.status),
      `health check answered HTTP ${outcome.status}${redirectNote(check, outcome)}, expected ${expected}${check.redirectHint && isRedirect(outcome) ? `: ${check.redirectHint}` : ''}`,
    );
  }
  return up(`HTTP ${outcome.status} in ${Math.round(outcome.durationSeconds * 1000)} ms`);
}

function isRedirect(outcome: HttpResponse): boolean {
  return outcome.status >= 300 && outcome.status < 400;
}

/** " to www.example.com" for a redirect of a caller that asked (redirectHint), else ''. */
function redirectNote(check: HealthCheck, outcome: HttpResponse): string {
  if (!check.redirectHint || !isRedirect(outcome)) return '';
  const location = headerValue(outcome.headers, 'location');
  if (!location) return ' without a Location';
  try {
    return ` to ${new URL(location, check.url).host}`;
  } catch {
    return ' to an unreadable Location';
  }
}

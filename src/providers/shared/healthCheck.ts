import type { RE2JS } from 're2js';
import type { CoreCode } from '../../core/codes.js';
import { httpStatusCode } from '../../core/codes.js';
import type { AccessServiceToken } from '../../core/env.js';
import { type ConditionOutcome, degraded, type ProbeResult, up } from '../../core/result.js';
import { type HttpRequest, type HttpResponse, headerValue } from '../../transport/client.js';
import type { ProbeContext } from '../contract.js';
import { accessHeaders, classifyEdgeResponse, judgeEdge } from './accessGate.js';
import { transportFailure } from './api.js';
import type {
  AccessGateCode,
  AccessGateMissingCode,
  ConditionCodeOf,
  HealthCode,
  TransportCode,
} from './codes.js';
import {
  compileRegex,
  type Expectations,
  evaluateConditions,
  judgeStatus,
  type StatusVerdict,
} from './conditions.js';
import { withTargetEvidence } from './evidence.js';

export interface HealthCheck {
  url: string;
  /** Conditions on the answer; without them any 2xx is healthy. */
  expect?: Expectations;
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
  method?: HttpRequest['method'];
  /** Static headers and those read from the environment, already resolved. */
  headers?: Record<string, string>;
  body?: string;
  /** Values that must never appear in a detail (header values read from the environment). */
  secrets?: readonly string[];
  /**
   * The URL must stay behind Cloudflare Access: sent without a token, an Access refusal is UP and
   * a 2xx is access_gate_missing.
   */
  expectGate?: boolean;
}

export type HealthCheckCode =
  | HealthCode
  | AccessGateCode
  | AccessGateMissingCode
  | ConditionCodeOf
  | TransportCode
  | CoreCode;

/** Requests a health URL and judges it; shared by `http` and the app check of `heroku_app`. */
export async function checkHealth(
  ctx: ProbeContext,
  check: HealthCheck,
): Promise<ProbeResult<HealthCheckCode>> {
  const request: Omit<HttpRequest, 'deadline'> = {
    url: check.url,
    method: check.method,
    headers: requestHeaders(check),
    caFile: check.caFile,
    freshConnection: check.freshConnection,
  };
  if (check.body !== undefined) request.body = check.body;
  const outcome = await ctx.request(request);
  if (outcome.kind === 'failure') return transportFailure(outcome, 'health_no_response', 'health check');
  const judged = check.expectGate ? judgeGate(check, outcome) : judgeHealth(check, outcome);
  // Every judgement above is a fresh object: the evidence is set on it rather than spread into a copy.
  return withTargetEvidence(judged, outcome);
}

function requestHeaders(check: HealthCheck): Record<string, string> | undefined {
  // The gate check goes out without a token: the question is whether Access stops a stranger.
  if (check.expectGate || !check.accessToken) return check.headers;
  return { ...check.headers, ...accessHeaders(check.accessToken) };
}

function judgeGate(check: HealthCheck, outcome: HttpResponse): ProbeResult<HealthCheckCode> {
  const context = { tokenSent: false, accessDenyUrl: check.accessDenyUrl };
  const verdict = classifyEdgeResponse(outcome, context);
  if (verdict.kind === 'login_redirect' || verdict.kind === 'access_refusal') {
    return up(`behind Cloudflare Access, as expected: ${verdict.form}`);
  }
  // A WAF or bot rule answered before Access could: whether the gate exists is unknown.
  if (verdict.kind === 'edge_block') return judgeEdge(outcome, context) as ProbeResult<HealthCheckCode>;
  if (outcome.status >= 200 && outcome.status < 300) {
    return degraded(
      'access_gate_missing',
      `HTTP ${outcome.status} without any service token: Cloudflare Access no longer protects this URL`,
    );
  }
  return degraded(
    httpStatusCode('health_http_', outcome.status),
    `health check answered HTTP ${outcome.status}, expected a Cloudflare Access login redirect or refusal`,
  );
}

function judgeHealth(check: HealthCheck, outcome: HttpResponse): ProbeResult<HealthCheckCode> {
  const edge = judgeEdge(outcome, {
    tokenSent: check.accessToken !== undefined,
    accessDenyUrl: check.accessDenyUrl,
  });
  if (edge) return edge;
  const expect = check.expect;
  const status = judgeStatus(expect?.status, outcome.status);
  if (!status.healthy) {
    const result: ProbeResult<HealthCheckCode> = degraded(
      httpStatusCode('health_http_', outcome.status),
      `health check answered HTTP ${outcome.status}${redirectNote(check, outcome)}, expected ${status.expected}${check.redirectHint && isRedirect(outcome) ? `: ${check.redirectHint}` : ''}`,
    );
    if (expect) result.conditions = [statusOutcomeOf(status, outcome)];
    return result;
  }
  const ms = Math.round(outcome.durationSeconds * 1000);
  // The common case, a plain 2xx check, builds no condition outcomes at all.
  if (!expect) return up(`HTTP ${outcome.status} in ${ms} ms`);
  const statusOutcome = statusOutcomeOf(status, outcome);
  const { outcomes, failure } = evaluateConditions(expect, outcome, check.secrets ?? [], compiledRegex);
  const conditions = [statusOutcome, ...outcomes];
  if (failure) return { ...degraded(failure.code, failure.detail), conditions };
  return { ...up(`HTTP ${outcome.status} in ${ms} ms, ${conditions.length} condition(s) met`), conditions };
}

function statusOutcomeOf(status: StatusVerdict, outcome: HttpResponse): ConditionOutcome {
  return { rule: status.rule, passed: status.healthy, seen: String(outcome.status) };
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

// Compiled once per pattern: the registry's patterns are few and live as long as the process.
const COMPILED = new Map<string, RE2JS>();
function compiledRegex(source: string): RE2JS {
  let regex = COMPILED.get(source);
  if (!regex) {
    regex = compileRegex(source);
    COMPILED.set(source, regex);
  }
  return regex;
}

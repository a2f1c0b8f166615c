import type { OnlineContext, OnlineFinding } from '../../online.js';
import { lifecycleNeeds, managementCredentials, type OnlineOf, type WatchedRegistry } from './needs.js';
import { type CredentialState, expiryText, readCredentials } from './read.js';

/** Below these the watch's alerts fire (CredentialExpiring pages, CredentialExpiringSoon tickets). */
const FAIL_WITHIN_MS = 7 * 86_400_000;
const WARN_WITHIN_MS = 30 * 86_400_000;

function expiryFinding(state: CredentialState, now: number): OnlineFinding {
  const surfaces = [...new Set(state.surfaces.map((use) => use.key))];
  const base = { check: 'credential_expiry', subject: state.variable, surfaces };
  if (!state.valid)
    return {
      ...base,
      result: 'rejected',
      severity: 'fail',
      detail: `token for ${state.variable} is not usable: ${state.detail}`,
    };
  const detail = `token for ${state.variable} ${expiryText(state.expiresAt, now)} (${state.description})`;
  const left = state.expiresAt === undefined ? Number.POSITIVE_INFINITY : state.expiresAt - now;
  if (left < FAIL_WITHIN_MS) return { ...base, result: 'error', severity: 'fail', detail };
  if (left < WARN_WITHIN_MS) return { ...base, result: 'error', severity: 'warn', detail };
  return { ...base, result: 'ok', severity: 'ok', detail };
}

/** One row per variable and application (or uncovered URL), for the surfaces that share it. */
function enrollmentFindings(state: CredentialState): OnlineFinding[] {
  const rows = new Map<string, OnlineFinding>();
  for (const use of state.surfaces) {
    if (state.kind !== 'access_service_token') continue;
    const subject = `${state.variable} @ ${use.application ?? 'no application'}`;
    const key = `${subject}\u0000${use.detail}`;
    const row = rows.get(key);
    if (row) {
      row.surfaces.push(use.key);
      continue;
    }
    const verdict =
      use.enrolled === true
        ? ({ result: 'ok', severity: 'ok' } as const)
        : use.enrolled === false
          ? ({ result: 'rejected', severity: 'fail' } as const)
          : ({ result: 'missing', severity: 'warn' } as const);
    rows.set(key, {
      check: 'access_enrollment',
      subject,
      surfaces: [use.key],
      ...verdict,
      detail: use.detail,
    });
  }
  return [...rows.values()];
}

/**
 * `check-config --online`'s rows for the credential watch: each credential's expiry or why it is not
 * usable ("token for CF_ACCESS_SERVICE_TOKEN_CONSOLE expires in 5 days"), and each service token's
 * enrollment in the application covering its surfaces ("token in no Service Auth policy of
 * application console"). One read, as the running exporter does once per interval.
 */
export async function checkCredentialLifecycle(
  registry: WatchedRegistry,
  ctx: OnlineContext,
  onlineOf: OnlineOf,
  now = Date.now(),
): Promise<OnlineFinding[]> {
  const needs = lifecycleNeeds(registry, onlineOf);
  const management = managementCredentials(needs, ctx.env);
  if (!management.ok)
    return [
      {
        check: 'credential_lifecycle',
        subject: needs.managementVariable,
        result: 'unverified',
        severity: 'warn',
        detail: `not checked: ${management.why} (no expiry, validity or enrollment is read)`,
        surfaces: [],
      },
    ];
  const round = await readCredentials(needs, { env: ctx.env, send: ctx.send, now });
  const findings: OnlineFinding[] = [];
  for (const [variable, why] of round.failures)
    findings.push({
      check: 'credential_expiry',
      subject: variable,
      result: 'error',
      severity: 'fail',
      detail: `not read: ${why}`,
      surfaces: [...new Set(needs.credentials.get(variable)?.surfaces.map((use) => use.key) ?? [])],
    });
  for (const state of round.credentials.values())
    findings.push(expiryFinding(state, now), ...enrollmentFindings(state));
  return findings;
}

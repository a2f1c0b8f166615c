import { type Env, readAccessToken } from '../../../core/env.js';
import type { SurfaceLabels } from '../../../core/surface.js';
import { providerText } from '../../shared/api.js';
import { cloudflareApiUrl } from '../client.js';
import {
  type ApiCall,
  listApplications,
  listServiceTokens,
  type Read,
  type Send,
  type ServiceToken,
  verifyApiToken,
} from './api.js';
import { type AccessApplication, applicationCovering, applicationNamed, enrollmentIn } from './matcher.js';
import { type CredentialNeed, type LifecycleNeeds, managementCredentials } from './needs.js';

/** What one surface's use of an Access service token looks like in the account. */
export interface SurfaceCredentialState {
  key: string;
  labels: SurfaceLabels;
  variable: string;
  /** undefined when no application covers the surface's URL (or the one it names does not exist). */
  enrolled: boolean | undefined;
  application: string | undefined;
  detail: string;
}

/** One credential variable as the provider sees it. Never holds a secret; a client id may appear. */
export interface CredentialState {
  variable: string;
  /** The `kind` label (CredentialNeed.label): access_service_token, cloudflare_api_token, heroku_api_key. */
  kind: string;
  /** Found, enabled and not expired (Access); `active` and not expired (API token). */
  valid: boolean;
  /** Milliseconds since the epoch; undefined when it never expires (or is not in the account). */
  expiresAt: number | undefined;
  /** What it is in the account: "service token raxx-agent-vault-access", "account API token". */
  description: string;
  detail: string;
  surfaces: SurfaceCredentialState[];
}

export interface CredentialRound {
  credentials: Map<string, CredentialState>;
  /** Variables that could not be read this time, with why (a failed or refused API call). */
  failures: Map<string, string>;
  /** Calls sent to the Cloudflare API (not a provider's own reads): what the round cost the budget. */
  cloudflareCalls: number;
}

export interface RoundOptions {
  env: Env;
  send: Send;
  now: number;
  onBudget?: ApiCall['onBudget'];
}

const DAY_MS = 86_400_000;

/** "expires in 5 days", "expired 2 days ago", "never expires". */
export function expiryText(expiresAt: number | undefined, now: number): string {
  if (expiresAt === undefined) return 'never expires';
  const days = (expiresAt - now) / DAY_MS;
  if (days < 0) {
    const ago = Math.floor(-days);
    return ago === 0 ? 'expired today' : `expired ${ago} day${ago === 1 ? '' : 's'} ago`;
  }
  const left = Math.floor(days);
  if (left === 0) return `expires in ${Math.max(1, Math.round(days * 24))} hour(s)`;
  return `expires in ${left} day${left === 1 ? '' : 's'}`;
}

function surfaceState(
  need: CredentialNeed,
  use: CredentialNeed['surfaces'][number],
  token: ServiceToken | undefined,
  applications: readonly AccessApplication[],
): SurfaceCredentialState {
  const base = { key: use.key, labels: use.labels, variable: need.variable };
  let app: AccessApplication | undefined;
  if (use.application !== undefined) {
    app = applicationNamed(applications, use.application);
    if (!app)
      return {
        ...base,
        enrolled: undefined,
        application: undefined,
        detail: `access_app ${use.application} is not an Access application of the account`,
      };
  } else if (use.url !== undefined) {
    app = applicationCovering(applications, use.url);
    if (!app) {
      const where = new URL(use.url);
      return {
        ...base,
        enrolled: undefined,
        application: undefined,
        detail: `no Access application covers ${where.hostname}${where.pathname} (name one with access_app)`,
      };
    }
  } else {
    return {
      ...base,
      enrolled: undefined,
      application: undefined,
      detail: 'the gated URL is known only at probe time: name the application with access_app',
    };
  }
  if (!token) return { ...base, enrolled: false, application: app.name, detail: 'token not in the account' };
  const enrollment = enrollmentIn(app, token.id);
  return enrollment.enrolled
    ? {
        ...base,
        enrolled: true,
        application: app.name,
        detail: `in Service Auth policy ${enrollment.policy} of application ${app.name}`,
      }
    : { ...base, enrolled: false, application: app.name, detail: enrollment.why };
}

/** The surfaces of a credential that no Access application gates: nothing to enroll. */
function surfacesWithoutEnrollment(need: CredentialNeed): SurfaceCredentialState[] {
  return need.surfaces.map((use) => ({
    key: use.key,
    labels: use.labels,
    variable: need.variable,
    enrolled: undefined,
    application: undefined,
    detail: '',
  }));
}

function accessState(
  need: CredentialNeed,
  clientId: string,
  tokens: readonly ServiceToken[],
  applications: readonly AccessApplication[],
  now: number,
): CredentialState {
  const token = tokens.find((candidate) => candidate.clientId === clientId);
  const surfaces = need.surfaces.map((use) => surfaceState(need, use, token, applications));
  const base = { variable: need.variable, kind: need.label, surfaces };
  if (!token)
    return {
      ...base,
      description: `client id ${clientId}`,
      valid: false,
      expiresAt: undefined,
      detail: `client id ${clientId} is not a service token of the account (revoked or deleted)`,
    };
  const expired = token.expiresAt !== undefined && token.expiresAt <= now;
  const name = `service token ${token.name || token.id}`;
  if (!token.enabled)
    return {
      ...base,
      description: name,
      valid: false,
      expiresAt: token.expiresAt,
      detail: `${name} is disabled`,
    };
  return {
    ...base,
    description: name,
    valid: !expired,
    expiresAt: token.expiresAt,
    detail: `${name} ${expiryText(token.expiresAt, now)}`,
  };
}

/**
 * One read of every credential the registry uses: the account's service tokens and applications
 * (once, shared by every surface), and a verify call per API token. Variables whose read failed are
 * in `failures`, so the caller can keep their last good state.
 */
export async function readCredentials(
  needs: LifecycleNeeds,
  options: RoundOptions,
): Promise<CredentialRound> {
  const round: CredentialRound = { credentials: new Map(), failures: new Map(), cloudflareCalls: 0 };
  const management = managementCredentials(needs, options.env);
  if (!management.ok) return round;
  const baseUrl = cloudflareApiUrl(options.env);
  const secrets = [...needs.credentials.keys()].flatMap((variable) => {
    const value = options.env[variable]?.trim();
    return value ? [value, ...value.split(':').map((part) => part.trim())] : [];
  });
  const call: ApiCall = {
    secrets,
    send: (req) => {
      round.cloudflareCalls++;
      return options.send(req);
    },
    baseUrl,
    token: management.token,
    accountId: management.accountId,
    onBudget: options.onBudget,
  };
  const accessNeeds: Array<{ need: CredentialNeed; clientId: string }> = [];
  const apiNeeds: CredentialNeed[] = [];
  const declaredNeeds: CredentialNeed[] = [];
  for (const need of needs.credentials.values()) {
    if (need.kind === 'provider_declared') {
      if (options.env[need.variable]?.trim()) declaredNeeds.push(need);
      continue;
    }
    if (need.kind === 'cloudflare_api_token') {
      if (options.env[need.variable]?.trim()) apiNeeds.push(need);
      continue;
    }
    // Unset or malformed: the surfaces already report skipped_credentials naming it.
    const token = readAccessToken(options.env, need.variable);
    if (token.ok) accessNeeds.push({ need, clientId: token.value.clientId });
  }

  if (accessNeeds.length > 0) {
    const tokens = await listServiceTokens(call);
    const applications: Read<AccessApplication[]> = tokens.ok ? await listApplications(call) : tokens;
    if (!tokens.ok || !applications.ok) {
      const why = !tokens.ok ? tokens.detail : !applications.ok ? applications.detail : '';
      for (const { need } of accessNeeds) round.failures.set(need.variable, why);
    } else {
      for (const { need, clientId } of accessNeeds)
        round.credentials.set(
          need.variable,
          accessState(need, clientId, tokens.value, applications.value, options.now),
        );
    }
  }

  for (const need of declaredNeeds) {
    const value = options.env[need.variable]?.trim() ?? '';
    const reading = await need.readLifecycle?.(value, {
      env: options.env,
      send: options.send,
      now: options.now,
    });
    if (!reading) continue;
    if (!reading.ok && !reading.refused) {
      round.failures.set(need.variable, providerText(reading.detail, secrets));
      continue;
    }
    const surfaces = surfacesWithoutEnrollment(need);
    round.credentials.set(need.variable, {
      variable: need.variable,
      kind: need.label,
      valid: reading.ok
        ? reading.valid && (reading.expiresAt === undefined || reading.expiresAt > options.now)
        : false,
      expiresAt: reading.ok ? reading.expiresAt : undefined,
      description: reading.ok ? reading.detail : 'credential',
      detail: providerText(
        reading.ok
          ? `${reading.detail} ${expiryText(reading.expiresAt, options.now)}`
          : `refused: ${reading.detail}`,
        secrets,
      ),
      surfaces,
    });
  }

  for (const need of apiNeeds) {
    const token = options.env[need.variable]?.trim() ?? '';
    const surfaces = surfacesWithoutEnrollment(need);
    const verdict = await verifyApiToken({ ...call, token });
    if (!verdict.ok) {
      if (verdict.refused) {
        round.credentials.set(need.variable, {
          variable: need.variable,
          kind: need.label,
          valid: false,
          expiresAt: undefined,
          description: 'API token',
          detail: `Cloudflare refused the token on verify (invalid, revoked or deleted): ${verdict.detail}`,
          surfaces,
        });
      } else round.failures.set(need.variable, verdict.detail);
      continue;
    }
    const { status, expiresAt, owner } = verdict.value;
    const expired = expiresAt !== undefined && expiresAt <= options.now;
    const valid = status === 'active' && !expired;
    const description = `${owner} API token`;
    round.credentials.set(need.variable, {
      description,
      variable: need.variable,
      kind: need.label,
      valid,
      expiresAt,
      detail: `${description} ${status === 'active' ? '' : `${status}, `}${expiryText(expiresAt, options.now)}`,
      surfaces,
    });
  }
  return round;
}

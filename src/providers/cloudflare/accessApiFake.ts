import { randomBytes, randomUUID } from 'node:crypto';
// Types only, never imported at runtime: the official SDK's definitions keep the builder honest.
import type { ServiceToken } from 'cloudflare/resources/zero-trust/access/service-tokens';
import type { Documented, FakeReply, FakeRequest } from '../shared/fakeServer.js';
import { type ListPage, listPageOf, pagedReply } from './fakePaging.js';

/**
 * The Cloudflare Access management API and token verify, as routes of the fake Cloudflare API
 * (fake.ts mounts them behind its auth, budget and failure scripting). Wire format:
 * provider-apis.md §8: service tokens, applications with policies, app-scoped policies, every list
 * paginated with result_info; GET /user/tokens/verify and /accounts/{id}/tokens/verify.
 */

export interface FakeServiceTokenSpec {
  name: string;
  /** Default: 32 hex characters + `.access`, as Cloudflare issues them. */
  clientId?: string;
  /** null: `duration: forever`. Default: a year from now (`duration: 8760h`). */
  expiresAt?: Date | null;
  enabled?: boolean;
}

export interface FakeServiceToken {
  id: string;
  clientId: string;
  /** Only create answers carry it; the list never does. */
  clientSecret: string;
}

export type FakeRule =
  | { service_token: { token_id: string } }
  | { any_valid_service_token: Record<string, never> }
  | { email: { email: string } };

export interface FakePolicySpec {
  name: string;
  decision: 'allow' | 'deny' | 'non_identity' | 'bypass';
  include: FakeRule[];
  exclude?: FakeRule[];
}

export interface FakeApplicationSpec {
  name: string;
  domain: string;
  selfHostedDomains?: string[];
  type?: string;
  policies?: FakePolicySpec[];
  /** false: the list leaves `policies` out, so a client must read /apps/{id}/policies. Default true. */
  embedPolicies?: boolean;
}

export interface FakeTokenVerify {
  status: 'active' | 'disabled' | 'expired';
  expiresOn?: Date | null;
  /** `account`: only /accounts/{id}/tokens/verify knows it; /user/tokens/verify answers 401 / 1000. */
  owner?: 'user' | 'account';
}

export interface AccessApiFake {
  addServiceToken(spec: FakeServiceTokenSpec): FakeServiceToken;
  updateServiceToken(id: string, patch: Partial<Omit<FakeServiceTokenSpec, 'clientId'>>): void;
  /** Deletes it (what "revoked" means for a service token). */
  deleteServiceToken(id: string): void;
  addApplication(spec: FakeApplicationSpec): { id: string };
  /** Replaces an application's policies. */
  setPolicies(appId: string, policies: FakePolicySpec[]): void;
  /** What verify answers for an API token (default: active, never expires, user-owned). */
  setTokenVerify(token: string, verify: FakeTokenVerify): void;
}

interface StoredToken {
  id: string;
  clientId: string;
  name: string;
  enabled: boolean;
  expiresAt: Date | null;
  createdAt: string;
}

interface StoredApp {
  id: string;
  aud: string;
  spec: FakeApplicationSpec;
  policies: Array<FakePolicySpec & { id: string; precedence: number }>;
  createdAt: string;
}

/**
 * A listed service token: the SDK's ServiceToken, every field present, plus the timestamps the API
 * sends beyond it; a `forever` token has no expiry, which the SDK types as a string only.
 */
type ServiceTokenBody = Omit<Documented<ServiceToken>, 'expires_at'> & {
  expires_at: string | null;
  created_at: string;
  updated_at: string;
  last_seen_at: string;
};

// [inferred] The error codes of a missing application (12130) and of bad list options (12006) are
// not in provider-apis.md; clients read only the status and `success:false` of these answers.
const YEAR_MS = 365 * 86_400_000;
const DEFAULT_PER_PAGE = 25;
const MAX_PER_PAGE = 1000;

export function createAccessApi(accountId: string): {
  controls: AccessApiFake;
  route(req: FakeRequest, token: string): FakeReply | undefined;
} {
  const tokens = new Map<string, StoredToken>();
  const apps = new Map<string, StoredApp>();
  const verifies = new Map<string, FakeTokenVerify>();

  const policyJson = (policy: StoredApp['policies'][number]) => ({
    id: policy.id,
    name: policy.name,
    decision: policy.decision,
    include: policy.include,
    exclude: policy.exclude ?? [],
    require: [],
    precedence: policy.precedence,
    created_at: '2025-01-10T08:00:00Z',
    updated_at: '2025-01-10T08:00:00Z',
  });
  const appJson = (app: StoredApp) => ({
    id: app.id,
    uid: app.id,
    name: app.spec.name,
    type: app.spec.type ?? 'self_hosted',
    domain: app.spec.domain,
    self_hosted_domains: app.spec.selfHostedDomains ?? [app.spec.domain],
    destinations: (app.spec.selfHostedDomains ?? [app.spec.domain]).map((uri) => ({ type: 'public', uri })),
    aud: app.aud,
    session_duration: '24h',
    app_launcher_visible: true,
    service_auth_401_redirect: false,
    created_at: app.createdAt,
    updated_at: app.createdAt,
    ...(app.spec.embedPolicies === false ? {} : { policies: app.policies.map(policyJson) }),
  });
  const tokenJson = (token: StoredToken): ServiceTokenBody =>
    ({
      id: token.id,
      client_id: token.clientId,
      name: token.name,
      duration: token.expiresAt === null ? 'forever' : '8760h',
      enabled: token.enabled,
      expires_at: token.expiresAt?.toISOString() ?? null,
      created_at: token.createdAt,
      updated_at: token.createdAt,
      last_seen_at: token.createdAt,
    }) satisfies ServiceTokenBody;
  const storePolicies = (policies: FakePolicySpec[]) =>
    policies.map((policy, index) => ({ ...policy, id: randomUUID(), precedence: index + 1 }));

  const controls: AccessApiFake = {
    addServiceToken(spec) {
      const token: StoredToken = {
        id: randomUUID(),
        clientId: spec.clientId ?? `${randomBytes(16).toString('hex')}.access`,
        name: spec.name,
        enabled: spec.enabled ?? true,
        expiresAt: spec.expiresAt === undefined ? new Date(Date.now() + YEAR_MS) : spec.expiresAt,
        createdAt: new Date().toISOString(),
      };
      tokens.set(token.id, token);
      return { id: token.id, clientId: token.clientId, clientSecret: randomBytes(32).toString('hex') };
    },
    updateServiceToken(id, patch) {
      const token = tokens.get(id);
      if (!token) throw new Error(`fake Access: no service token ${id}`);
      if (patch.name !== undefined) token.name = patch.name;
      if (patch.enabled !== undefined) token.enabled = patch.enabled;
      if (patch.expiresAt !== undefined) token.expiresAt = patch.expiresAt;
    },
    deleteServiceToken: (id) => {
      tokens.delete(id);
    },
    addApplication(spec) {
      const app: StoredApp = {
        id: randomUUID(),
        aud: randomBytes(32).toString('hex'),
        spec,
        policies: storePolicies(spec.policies ?? []),
        createdAt: new Date().toISOString(),
      };
      apps.set(app.id, app);
      return { id: app.id };
    },
    setPolicies(appId, policies) {
      const app = apps.get(appId);
      if (!app) throw new Error(`fake Access: no application ${appId}`);
      app.policies = storePolicies(policies);
    },
    setTokenVerify: (token, verify) => {
      verifies.set(token, verify);
    },
  };

  const verifyReply = (token: string, owner: 'user' | 'account'): FakeReply => {
    const verify = verifies.get(token) ?? { status: 'active', owner: 'user' };
    if ((verify.owner ?? 'user') !== owner)
      return {
        status: 401,
        body: {
          success: false,
          errors: [{ code: 1000, message: 'Invalid API Token' }],
          messages: [],
          result: null,
        },
      };
    return {
      status: 200,
      body: {
        result: {
          id: randomUUID().replace(/-/g, ''),
          status: verify.status,
          not_before: '2025-01-01T00:00:00Z',
          expires_on: verify.expiresOn?.toISOString() ?? null,
        },
        success: true,
        errors: [],
        messages: [{ code: 10000, message: 'This API Token is valid and active', type: null }],
      },
    };
  };

  const route = (req: FakeRequest, token: string): FakeReply | undefined => {
    if (req.method !== 'GET') return undefined;
    if (req.path === '/user/tokens/verify') return verifyReply(token, 'user');
    const match =
      /^\/accounts\/([^/]+)\/(tokens\/verify|access\/service_tokens|access\/apps)(?:\/([^/]+)\/(policies))?\/?$/.exec(
        req.path,
      );
    if (!match) return undefined;
    const [, account, resource, appId, policiesPart] = match;
    if (account !== accountId) return undefined;
    if (resource === 'tokens/verify') return appId === undefined ? verifyReply(token, 'account') : undefined;
    const listing = pageOf(req);
    if ('status' in listing) return listing;
    if (resource === 'access/service_tokens') {
      if (appId !== undefined) return undefined;
      return pagedReply([...tokens.values()].map(tokenJson), listing);
    }
    if (appId === undefined) return pagedReply([...apps.values()].map(appJson), listing);
    const app = apps.get(decodeURIComponent(appId));
    if (!app || policiesPart === undefined)
      return {
        status: 404,
        body: {
          success: false,
          errors: [{ code: 12130, message: 'access.api.error.not_found' }],
          messages: [],
          result: null,
        },
      };
    return pagedReply(app.policies.map(policyJson), listing);
  };

  return { controls, route };
}

const INVALID_PAGINATION: FakeReply = {
  status: 400,
  body: {
    success: false,
    errors: [{ code: 12006, message: 'invalid pagination' }],
    messages: [],
    result: null,
  },
};

function pageOf(req: FakeRequest): ListPage | FakeReply {
  return listPageOf(req, {
    defaultPerPage: DEFAULT_PER_PAGE,
    maxPerPage: MAX_PER_PAGE,
    refusal: INVALID_PAGINATION,
  });
}

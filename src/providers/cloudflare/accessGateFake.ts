import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  controlsOf,
  type FakeControls,
  FakeHttp,
  type FakeReply,
  type FakeRequest,
  send,
} from '../shared/fakeServer.js';

/**
 * A fake Cloudflare Access self-hosted application in front of a target: service tokens, a
 * Service Auth (non_identity) policy, and the ways Access refuses a request. provider-apis.md §3.
 */

/**
 * How Access refuses (provider-apis.md §3.3, §7.3): the default 302 to the team login page; 401
 * with a Bearer challenge (managed OAuth); 403 with Cf-Access-Error; the older edge's 403 carrying
 * CF-Access-Aud / CF-Access-Domain; a Service-Auth-only application's bare 403 (`403-bare`: only
 * Cloudflare's server, cf-ray and an HTML page); the bare 401 of service_auth_401_redirect
 * (`401-bare`); or a 302 to the application's custom_non_identity_deny_url (`deny-url`).
 */
export type AccessDenyForm = '302' | '401' | '403' | '403-aud' | '403-bare' | '401-bare' | 'deny-url';

/**
 * Blocks by WAF, bot or browser-integrity rules, which come before Access (§7.3): a managed
 * challenge (`cf-mitigated: challenge`) or the 1010 page (a banned browser signature).
 */
export type EdgeBlock = 'challenge' | 'error-1010';

export interface ServiceToken {
  clientId: string;
  clientSecret: string;
}

export interface AccessGateOptions {
  /** Origin the gate forwards allowed requests to, e.g. `http://127.0.0.1:1234`. */
  target: string;
  team?: string;
  /** The application's public hostname, as it appears in the login URL. */
  hostname?: string;
  denyWith?: AccessDenyForm;
  /** How long the gate waits for the origin before answering 524 (default 100 s, Cloudflare's proxy read timeout). */
  originTimeoutMs?: number;
  /** The application's custom_non_identity_deny_url, for the `deny-url` form. */
  denyUrl?: string;
}

export interface AccessGateFake extends FakeControls {
  readonly aud: string;
  /** Creates a service token that exists but is in no policy yet. */
  createServiceToken(): ServiceToken;
  /** Adds the token to the application's Service Auth (non_identity) policy. */
  enroll(clientId: string): void;
  /** Removes the token from the policy; the token itself stays valid. */
  unenroll(clientId: string): void;
  /** Deletes the token. */
  revoke(clientId: string): void;
  setDenyForm(form: AccessDenyForm): void;
  /** Every request is blocked before Access in this way, until cleared with undefined. */
  setEdgeBlock(block: EdgeBlock | undefined): void;
  setTarget(url: string): void;
  /** Requests that reached the target. */
  passed(): number;
  /** Requests Access refused. */
  blocked(): number;
}

// Cloudflare's proxy waits 100 s for an origin's answer, then sends its 524 page.
const DEFAULT_ORIGIN_TIMEOUT_MS = 100_000;

export async function startAccessGate(options: AccessGateOptions): Promise<AccessGateFake> {
  const team = options.team ?? 'myteam';
  const hostname = options.hostname ?? 'app.example.com';
  const aud = randomBytes(32).toString('hex');
  const tokens = new Map<string, string>();
  const policy = new Set<string>();
  const counts = { passed: 0, blocked: 0 };
  let denyForm: AccessDenyForm = options.denyWith ?? '302';
  let target = options.target;
  let edgeBlock: EdgeBlock | undefined;
  const denyUrl = options.denyUrl ?? `https://${hostname}/access-denied`;
  const originTimeoutMs = options.originTimeoutMs ?? DEFAULT_ORIGIN_TIMEOUT_MS;

  const allowed = (req: FakeRequest): boolean => {
    const clientId = header(req, 'cf-access-client-id');
    const secret = header(req, 'cf-access-client-secret');
    return clientId !== undefined && tokens.get(clientId) === secret && policy.has(clientId);
  };

  const deny = (req: FakeRequest, query: string): FakeReply => {
    counts.blocked++;
    switch (denyForm) {
      case '302': {
        const redirect = encodeURIComponent(`${req.path}${query}`);
        return {
          status: 302,
          headers: {
            location: `https://${team}.cloudflareaccess.com/cdn-cgi/access/login/${hostname}?kid=${aud}&redirect_url=${redirect}&meta=${fakeJwt({ aud, host: hostname })}`,
          },
        };
      }
      case '401':
        return {
          status: 401,
          headers: {
            'www-authenticate': `Bearer realm="OAuth", error="invalid_token", error_description="Missing or invalid access token", resource_metadata="https://${hostname}/.well-known/cloudflare-access-protected-resource/"`,
          },
          body: {
            error: 'invalid_token',
            error_description: 'Missing or invalid access token',
            resource_metadata: `https://${hostname}/.well-known/cloudflare-access-protected-resource/`,
          },
        };
      case '403':
        return { status: 403, headers: { 'cf-access-error': 'access_denied', ...html }, body: forbiddenPage };
      case '403-aud':
        return {
          status: 403,
          headers: { 'cf-access-aud': aud, 'cf-access-domain': hostname, ...html },
          body: forbiddenPage,
        };
      case '403-bare':
        return { status: 403, headers: html, body: forbiddenPage };
      case '401-bare':
        return { status: 401, headers: html, body: unauthorizedPage };
      case 'deny-url':
        return { status: 302, headers: { location: `${denyUrl}?kid=${aud}` } };
    }
  };

  const block = (kind: EdgeBlock): FakeReply => {
    counts.blocked++;
    if (kind === 'challenge')
      return { status: 403, headers: { 'cf-mitigated': 'challenge', ...html }, body: challengePage };
    return {
      status: 403,
      headers: { 'content-type': 'text/plain; charset=UTF-8' },
      body: 'error code: 1010',
    };
  };

  // Everything the edge sends carries Cloudflare's server header and a ray id, the origin's answers too.
  const edgeHeaders = () => ({ server: 'cloudflare', 'cf-ray': `${randomBytes(8).toString('hex')}-IAD` });
  const fromEdge = (reply: FakeReply): FakeReply => ({
    ...reply,
    headers: { ...edgeHeaders(), ...reply.headers },
  });

  const gate: FakeHttp = await FakeHttp.start({
    handle: (req, raw, res) => {
      const query = raw.url?.includes('?') ? raw.url.slice(raw.url.indexOf('?')) : '';
      if (edgeBlock) return fromEdge(block(edgeBlock));
      if (!allowed(req)) return fromEdge(deny(req, query));
      counts.passed++;
      const jwt = fakeJwt({ aud, common_name: header(req, 'cf-access-client-id') ?? '' });
      forward(target, raw, res, jwt, originTimeoutMs, edgeHeaders());
      return 'handled';
    },
  });

  return {
    ...controlsOf(gate),
    aud,
    resetCalls: () => {
      gate.resetCalls();
      counts.passed = 0;
      counts.blocked = 0;
    },
    createServiceToken() {
      const token = {
        clientId: `${randomBytes(16).toString('hex')}.access`,
        clientSecret: randomBytes(32).toString('hex'),
      };
      tokens.set(token.clientId, token.clientSecret);
      return token;
    },
    enroll: (clientId) => {
      policy.add(clientId);
    },
    unenroll: (clientId) => {
      policy.delete(clientId);
    },
    revoke: (clientId) => {
      tokens.delete(clientId);
      policy.delete(clientId);
    },
    setDenyForm: (form) => {
      denyForm = form;
    },
    setEdgeBlock: (kind) => {
      edgeBlock = kind;
    },
    setTarget: (url) => {
      target = url;
    },
    passed: () => counts.passed,
    blocked: () => counts.blocked,
  };
}

const html = { 'content-type': 'text/html; charset=UTF-8' };
const TIMEOUT_PAGE =
  '<!DOCTYPE html><html><head><title>A timeout occurred | Cloudflare</title></head><body><h1>A timeout occurred</h1><span>Error code 524</span></body></html>';
const BAD_GATEWAY_PAGE =
  '<!DOCTYPE html><html><head><title>Bad gateway | Cloudflare</title></head><body><h1>Bad gateway</h1><span>Error code 502</span></body></html>';
const unauthorizedPage =
  '<!DOCTYPE html><html><head><title>Unauthorized</title></head><body><h1>Unauthorized</h1></body></html>';
const challengePage =
  '<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><noscript>Enable JavaScript and cookies to continue</noscript></body></html>';
const forbiddenPage =
  '<!DOCTYPE html><html><head><title>Forbidden</title></head><body><h1>Forbidden</h1><p>You don\u2019t have permission to view this application.</p></body></html>';

function header(req: FakeRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Shaped like an Access JWT (header.payload.signature) but unsigned: nothing verifies it here. */
function fakeJwt(payload: Record<string, string>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({ type: 'app', ...payload })}.${randomBytes(16).toString('base64url')}`;
}

/**
 * Forwards an allowed request: the origin sees the JWT, never the service token. The request goes
 * to the target's origin whatever its request-target says: `new URL(raw.url, target)` would follow
 * `//elsewhere/` or an absolute URL to another host and make the gate an open proxy.
 */
function forward(
  target: string,
  raw: IncomingMessage,
  res: ServerResponse,
  jwt: string,
  originTimeoutMs: number,
  edgeHeaders: Record<string, string>,
): void {
  const pathAndQuery = raw.url ?? '/';
  if (!pathAndQuery.startsWith('/')) {
    send(res, { status: 400, headers: { ...edgeHeaders, ...html }, body: '<h1>400 Bad Request</h1>' });
    return;
  }
  const origin = new URL(target);
  const headers = { ...raw.headers };
  delete headers['cf-access-client-id'];
  delete headers['cf-access-client-secret'];
  delete headers.host;
  headers['cf-access-jwt-assertion'] = jwt;
  let timedOut = false;
  const upstream = httpRequest(
    {
      protocol: origin.protocol,
      hostname: origin.hostname,
      port: origin.port,
      // Taken verbatim, never parsed as a URL: `//host/x` stays a path on the target.
      path: pathAndQuery,
      method: raw.method,
      headers,
      timeout: originTimeoutMs,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, {
        ...answer.headers,
        ...edgeHeaders,
        'set-cookie': `CF_Authorization=${jwt}; path=/; secure; HttpOnly; SameSite=None`,
      });
      answer.pipe(res);
    },
  );
  upstream.on('timeout', () => {
    timedOut = true;
    upstream.destroy(new Error('origin timeout'));
  });
  upstream.on('error', () => {
    if (res.headersSent) res.destroy();
    else if (timedOut) send(res, { status: 524, headers: { ...edgeHeaders, ...html }, body: TIMEOUT_PAGE });
    else send(res, { status: 502, headers: { ...edgeHeaders, ...html }, body: BAD_GATEWAY_PAGE });
  });
  res.on('close', () => upstream.destroy());
  upstream.end();
}

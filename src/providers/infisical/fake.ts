import { randomBytes } from 'node:crypto';
import {
  controlsOf,
  type FakeControls,
  FakeHttp,
  type FakeReply,
  type FakeRequest,
} from '../shared/fakeServer.js';

/**
 * A fake Infisical server: `GET /api/status` and the error bodies its Fastify error handler and a
 * reverse proxy in front of it produce. provider-apis.md §4.
 */

/**
 * `healthy`: 200 {date, message:"Ok", ...}. `error_500`: Redis or Postgres down under getServerCfg.
 * `not_bootstrapped`: 404 "Admin config not found". `proxy_502`: the reverse proxy's HTML page.
 * `rate_limited`: 429 (Infisical Cloud only, and /api/status is allow-listed; here for completeness).
 * `connection_reset`: the connection drops without an answer (a crashing process or a dying proxy).
 * `echo_headers`: 403 whose message quotes the request's headers back, as a proxy or an auth
 * middleware in front of Infisical may, credentials included.
 */
export type InfisicalMode =
  | 'healthy'
  | 'error_500'
  | 'not_bootstrapped'
  | 'proxy_502'
  | 'rate_limited'
  | 'connection_reset'
  | 'echo_headers';

export interface InfisicalFake extends FakeControls {
  setMode(mode: InfisicalMode): void;
}

export async function startInfisical(): Promise<InfisicalFake> {
  let mode: InfisicalMode = 'healthy';
  const fake = await FakeHttp.start({
    handle: (req) => {
      if (req.path !== '/api/status') {
        return errorBody(404, 'NotFound', `Route GET:${req.path} not found`);
      }
      if (mode === 'echo_headers') return echoHeaders(req);
      return mode === 'connection_reset' ? 'drop' : statusReply(mode);
    },
    wrongTypes: () => ({ date: 20260820, message: 42, emailConfigured: 'yes' }),
  });
  return {
    ...controlsOf(fake),
    setMode: (next) => {
      mode = next;
    },
  };
}

function statusReply(mode: Exclude<InfisicalMode, 'connection_reset' | 'echo_headers'>): FakeReply {
  switch (mode) {
    case 'healthy':
      return {
        status: 200,
        body: {
          date: new Date().toISOString(),
          message: 'Ok',
          emailConfigured: true,
          inviteOnlySignup: false,
          redisConfigured: true,
          secretScanningConfigured: false,
          auditLogStorageDisabled: false,
        },
      };
    case 'error_500':
      return errorBody(500, 'InternalServerError', 'Something went wrong');
    case 'not_bootstrapped':
      return errorBody(404, 'NotFound', 'Admin config not found');
    case 'rate_limited':
      return errorBody(429, 'RateLimitExceeded', 'Rate limit exceeded. Please try again in 60 seconds');
    case 'proxy_502':
      return {
        status: 502,
        headers: { 'content-type': 'text/html' },
        body: '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
      };
  }
}

/** Credential-looking headers first, as such a middleware names what it refused. */
function echoHeaders(req: FakeRequest): FakeReply {
  const names = Object.keys(req.headers).sort(
    (a, b) => Number(isCredential(b)) - Number(isCredential(a)) || a.localeCompare(b),
  );
  const quoted = names.map((name) => `${name}=${String(req.headers[name])}`).join(', ');
  return errorBody(403, 'Forbidden', `rejected headers: ${quoted}`);
}

function isCredential(name: string): boolean {
  return /^(cf-access-|x-api-key|authorization)/.test(name);
}

/** Fastify's error handler body: {reqId, statusCode, error, message}. */
function errorBody(statusCode: number, error: string, message: string): FakeReply {
  const reqId = `req-${randomBytes(10).toString('base64url').replace(/[-_]/g, 'x').slice(0, 14)}`;
  return { status: statusCode, body: { reqId, statusCode, error, message } };
}

import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { LifecycleReadContext, LifecycleReading } from '../online.js';
import { parseJsonBody } from '../shared/api.js';
import { herokuApiUrl, herokuHeaders, herokuSaid } from './api.js';

/**
 * A Heroku API key's expiry, for the credential watch. The Platform API has no "this key" endpoint,
 * but GET /oauth/authorizations lists the account's OAuth authorizations with
 * `access_token: {token, expires_in}` ("seconds until OAuth token expires; may be null for tokens
 * with indefinite lifetime"): the key is the authorization whose token it is. A `heroku auth:token`
 * key expires (a year at most by default); one from `heroku authorizations:create` need not.
 */

const authorizationsSchema = z.array(
  z.looseObject({
    id: z.string(),
    description: z.string().nullable().optional(),
    access_token: z
      .looseObject({ token: z.string(), expires_in: z.number().nullable() })
      .nullable()
      .optional(),
  }),
);

// The key's own list: a few authorizations (CLI sessions, integrations), well under Heroku's 200 a page.
const BODY_CAP_BYTES = 512 * 1024;

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export async function readHerokuKeyLifecycle(
  key: string,
  ctx: LifecycleReadContext,
): Promise<LifecycleReading> {
  const what = 'Heroku API GET /oauth/authorizations';
  const outcome = await ctx.send({
    url: `${herokuApiUrl(ctx.env)}/oauth/authorizations`,
    headers: herokuHeaders(key),
    maxBodyBytes: BODY_CAP_BYTES,
  });
  if (outcome.kind === 'failure') return { ok: false, refused: false, detail: `${what}: ${outcome.message}` };
  if (outcome.status === 401)
    return { ok: false, refused: true, detail: `${what}: HTTP 401${herokuSaid(outcome, key)}` };
  // The key works (it is not a 401) but may not list authorizations (a scoped token): validity only.
  if (outcome.status === 403)
    return {
      ok: true,
      valid: true,
      expiresAt: undefined,
      detail: 'Heroku API key (may not list OAuth authorizations: expiry unknown)',
    };
  if (outcome.status !== 200 && outcome.status !== 206)
    return {
      ok: false,
      refused: false,
      detail: `${what}: HTTP ${outcome.status}${herokuSaid(outcome, key)}`,
    };
  const parsed = parseJsonBody(outcome, authorizationsSchema, what);
  if (!parsed.ok) return { ok: false, refused: false, detail: parsed.detail };
  const mine = parsed.value.find(
    (authorization) => authorization.access_token && sameSecret(authorization.access_token.token, key),
  );
  if (!mine?.access_token)
    return {
      ok: true,
      valid: true,
      expiresAt: undefined,
      detail: 'Heroku API key (not among the OAuth authorizations it lists: expiry unknown)',
    };
  const seconds = mine.access_token.expires_in;
  const name = `Heroku OAuth authorization ${mine.description || mine.id}`;
  if (seconds === null) return { ok: true, valid: true, expiresAt: undefined, detail: name };
  return { ok: true, valid: seconds > 0, expiresAt: ctx.now + seconds * 1000, detail: name };
}

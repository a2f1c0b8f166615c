import { z } from 'zod';
import type { Env } from '../../core/env.js';
import type { HttpResponse } from '../../transport/client.js';
import { providerText, tryParseJsonBody } from '../shared/api.js';

/** The Heroku Platform API as the probe and the online check both call it. */
export const DEFAULT_HEROKU_API_URL = 'https://api.heroku.com';

export function herokuApiUrl(env: Env): string {
  return (env.HEROKU_API_URL?.trim() || DEFAULT_HEROKU_API_URL).replace(/\/+$/, '');
}

export function herokuHeaders(apiKey: string): Record<string, string> {
  return { Accept: 'application/vnd.heroku+json; version=3', Authorization: `Bearer ${apiKey}` };
}

const errorSchema = z.looseObject({
  id: z.string().optional(),
  message: z.string().optional(),
  error: z.string().optional(),
});

/** The error id of a Heroku error body (`suspended`, `delinquent`, `not_found`...), or undefined. */
export function herokuErrorId(response: HttpResponse): string | undefined {
  return tryParseJsonBody(response, errorSchema)?.id;
}

/** What an error body says (` not_found: Couldn't find that app.`), scrubbed of the key; '' when it says nothing. */
export function herokuSaid(response: HttpResponse, apiKey: string): string {
  const body = tryParseJsonBody(response, errorSchema);
  const said = [body?.id, body?.message ?? body?.error].filter(Boolean).join(': ');
  return said ? ` ${providerText(said, [apiKey])}` : '';
}

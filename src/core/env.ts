export type Env = Readonly<Record<string, string | undefined>>;

export type CredentialLookup<T> = { ok: true; value: T } | { ok: false; detail: string; variable: string };

/** Reads a required secret variable; the detail matches the runbook's `skipped: X unset`. */
export function readSecret(env: Env, variable: string): CredentialLookup<string> {
  const value = env[variable]?.trim();
  if (!value) return { ok: false, detail: `skipped: ${variable} unset`, variable };
  return { ok: true, value };
}

export interface AccessServiceToken {
  clientId: string;
  clientSecret: string;
}

/** Reads a Cloudflare Access service token stored as `client_id:client_secret`. */
export function readAccessToken(env: Env, variable: string): CredentialLookup<AccessServiceToken> {
  const raw = readSecret(env, variable);
  if (!raw.ok) return raw;
  const separator = raw.value.indexOf(':');
  const clientId = raw.value.slice(0, separator).trim();
  const clientSecret = raw.value.slice(separator + 1).trim();
  if (separator < 0 || !clientId || !clientSecret) {
    return {
      ok: false,
      detail: `skipped: ${variable} malformed (expected client_id:client_secret)`,
      variable,
    };
  }
  return { ok: true, value: { clientId, clientSecret } };
}

/**
 * Shorter values are not masked: they would mask ordinary words. Every masking uses this one
 * floor, the values providers quote and the CLI's alike; a secret of 4 characters is masked.
 */
const MIN_MASKED_LENGTH = 4;
const MASK = '***';

declare const prepared: unique symbol;

/** Secrets as maskSecrets applies them: halves added, too-short ones left out, longest first. */
export type MaskableSecrets = readonly string[] & { readonly [prepared]: true };

/**
 * The values a text must never quote: each one as given and, since an Access service token is
 * `client_id:client_secret`, each of its halves, as the longest-first list maskSecrets applies.
 * Prepared once per probe (or CLI run, or push), then applied to every text it masks.
 */
export function maskableSecrets(values: Iterable<string | undefined>): MaskableSecrets {
  const pieces = new Set<string>();
  for (const raw of values) {
    const value = raw?.trim();
    if (!value) continue;
    pieces.add(value);
    for (const part of value.split(':')) pieces.add(part.trim());
  }
  return [...pieces]
    .filter((piece) => piece.length >= MIN_MASKED_LENGTH)
    .sort((a, b) => b.length - a.length) as readonly string[] as MaskableSecrets;
}

const NO_SECRETS = [] as readonly string[] as MaskableSecrets;

/** The values of credential variables, ready for maskSecrets. */
export function secretsOf(env: Env, variables: Iterable<string>): MaskableSecrets {
  const named = [...variables];
  // Most surfaces name no credential, and this runs on every probe.
  if (named.length === 0) return NO_SECRETS;
  return maskableSecrets(named.map((variable) => env[variable]));
}

/**
 * Replaces every known secret quoted in a text with `***`: the one masking of the exporter, for
 * details built from what a server answered, a job's pushed text and CLI output alike. Longest
 * first, so that a half never leaves the rest of its whole behind.
 */
export function maskSecrets(text: string, secrets: MaskableSecrets): string {
  let masked = text;
  for (const secret of secrets) if (masked.includes(secret)) masked = masked.replaceAll(secret, MASK);
  return masked;
}

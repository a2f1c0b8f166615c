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

import type { LoadedRegistry } from '../config/load.js';
import { Deadline } from '../core/deadline.js';
import type { Env } from '../core/env.js';
import { checkCredentialLifecycle } from '../providers/cloudflare/access/online.js';
import { providerFor } from '../providers/index.js';
import type { CredentialUse, OnlineContext, OnlineFinding } from '../providers/online.js';
import { checkAccessTargets } from '../providers/shared/accessGate.js';
import type { HttpClient } from '../transport/client.js';

export interface OnlineOptions {
  env: Env;
  http: HttpClient;
  /** Deadline of each call to a provider. */
  timeoutMs: number;
}

interface CredentialNeed {
  use: CredentialUse;
  surfaces: string[];
}

/**
 * Checks, against the providers themselves, what the registry needs: each credential set, well formed
 * and accepted; then whatever each provider's online check asks its API (one call per account), and
 * each Access service token against the gates it must pass. No provider is named here: each declares
 * its check (providers/<name>/online.ts).
 */
export async function checkOnline(
  registry: LoadedRegistry,
  options: OnlineOptions,
): Promise<OnlineFinding[]> {
  const credentials = new Map<string, CredentialNeed>();
  const groups = new Map<string, Array<{ key: string; surface: Record<string, unknown> }>>();
  const accessTargets = new Map<string, Map<string, string[]>>();
  const checkOf = new Map<string, NonNullable<ReturnType<typeof providerFor>['online']>>();
  for (const { key, config } of registry.surfaces) {
    const online = providerFor(config).online;
    if (!online) continue;
    for (const use of online.credentials(config)) {
      const need = credentials.get(use.variable) ?? { use, surfaces: [] };
      need.surfaces.push(key);
      credentials.set(use.variable, need);
    }
    const target = online.accessTarget?.(config);
    if (target) {
      const urls = accessTargets.get(target.variable) ?? new Map<string, string[]>();
      urls.set(target.url, [...(urls.get(target.url) ?? []), key]);
      accessTargets.set(target.variable, urls);
    }
    if (online.check && online.group) {
      const groupKey = `${config.provider}\u0000${online.group(config)}`;
      groups.set(groupKey, [...(groups.get(groupKey) ?? []), { key, surface: config }]);
      checkOf.set(groupKey, online);
    }
  }

  const credentialFindings = new Map<string, OnlineFinding>();
  for (const [variable, need] of credentials)
    credentialFindings.set(variable, inspectCredential(variable, need, options.env));
  const acceptedBy = new Map<string, string>();
  const ctx: OnlineContext = {
    env: options.env,
    send: (req) => options.http.send({ ...req, deadline: new Deadline(options.timeoutMs) }),
    usable: (variable) => credentialFindings.get(variable)?.result === 'ok',
    accept: (variable, provider) => acceptedBy.set(variable, provider),
    reject: (variable, detail) => {
      const finding = credentialFindings.get(variable);
      if (finding) Object.assign(finding, { result: 'rejected', severity: 'fail', detail });
    },
  };

  const found = await Promise.all([
    ...[...groups].map(([groupKey, surfaces]) => checkOf.get(groupKey)?.check?.(surfaces, ctx) ?? []),
    ...[...accessTargets].map(([variable, targets]) => checkAccessTargets(variable, targets, ctx)),
    checkCredentialLifecycle(registry, ctx, (config) => providerFor(config).online),
  ]);
  for (const [variable, finding] of credentialFindings) {
    if (finding.result !== 'ok') continue;
    const provider = acceptedBy.get(variable);
    if (provider) finding.detail = `set, well formed, accepted by ${provider}`;
    else {
      Object.assign(finding, {
        result: 'unverified',
        severity: 'warn',
        detail: 'set and well formed; no provider call could tell whether it is accepted',
      });
    }
  }
  return [...credentialFindings.values(), ...found.flat()];
}

/** Set and well formed; acceptance is decided later by the provider's answer. */
function inspectCredential(variable: string, need: CredentialNeed, env: Env): OnlineFinding {
  const finding = (result: OnlineFinding['result'], severity: OnlineFinding['severity'], detail: string) => ({
    check: 'credential',
    subject: variable,
    result,
    severity,
    detail,
    surfaces: need.surfaces,
  });
  const { noun } = need.use;
  const value = env[variable]?.trim();
  if (!value)
    return finding('unset', 'fail', `${noun} unset: the surfaces using it report skipped_credentials`);
  const problem = need.use.problem(value);
  if (problem) return finding('malformed', 'fail', `${noun} malformed: ${problem}`);
  return finding('ok', 'ok', 'set, well formed');
}

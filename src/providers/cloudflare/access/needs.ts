import type { Env } from '../../../core/env.js';
import type { SurfaceLabels } from '../../../core/surface.js';
import type { CredentialUse, OnlineCheck } from '../../online.js';

/** The fields of a surface the watch reads itself; the rest comes from its provider's declarations. */
export interface WatchedSurfaceConfig {
  name: string;
  provider: string;
}

/** The part of a loaded registry the credential watch reads (config/load.ts's LoadedRegistry fits). */
export interface WatchedRegistry {
  lifecycle?: { interval_seconds: number; management_token_env: string; account_id_env: string };
  surfaces: ReadonlyArray<{ key: string; env: string; config: WatchedSurfaceConfig }>;
}

/** A surface's online-check declarations (credentials and gated URL), from the provider list. */
// biome-ignore lint/suspicious/noExplicitAny: any provider's surface type
export type OnlineOf = (config: any) => OnlineCheck<any> | undefined;

export const DEFAULT_LIFECYCLE = {
  interval_seconds: 3600,
  management_token_env: 'CLOUDFLARE_ACCESS_MGMT_TOKEN',
  account_id_env: 'CLOUDFLARE_ACCOUNT_ID',
} as const;

export interface SurfaceUse {
  key: string;
  labels: SurfaceLabels;
  /** The URL the token must get through (the probe's gated URL), when the provider knows it up front. */
  url: string | undefined;
  /** `access_app:` on the surface: the application by name or id, overriding the URL match. */
  application: string | undefined;
}

export type CredentialKind = 'access_service_token' | 'cloudflare_api_token' | 'provider_declared';

export interface CredentialNeed {
  variable: string;
  kind: CredentialKind;
  /** The `kind` label of its series: the Cloudflare kinds as they are, a provider's own declared kind. */
  label: string;
  /** provider_declared: the provider's own read (a Heroku key's OAuth authorization). */
  readLifecycle?: CredentialUse['readLifecycle'];
  /** Empty for the management token: the watch itself uses it. */
  surfaces: SurfaceUse[];
}

export interface LifecycleNeeds {
  intervalSeconds: number;
  managementVariable: string;
  accountVariable: string;
  /** By variable; the management token is one of them (an API token used by no surface). */
  credentials: Map<string, CredentialNeed>;
}

function accessAppOf(config: WatchedSurfaceConfig): string | undefined {
  // `access_app` is the shared Access key (shared/accessGate.ts), on every provider that can sit behind Access.
  const value = (config as { access_app?: unknown }).access_app;
  return typeof value === 'string' ? value : undefined;
}

/**
 * Which credential variables the registry's surfaces use, and how: read from each provider's own
 * declarations (its online check's credentials and gated URL), so no provider is named here.
 */
export function lifecycleNeeds(registry: WatchedRegistry, onlineOf: OnlineOf): LifecycleNeeds {
  const settings = registry.lifecycle ?? DEFAULT_LIFECYCLE;
  const credentials = new Map<string, CredentialNeed>();
  const need = (variable: string, kind: CredentialKind, label: string = kind) => {
    let found = credentials.get(variable);
    if (!found) {
      found = { variable, kind, label, surfaces: [] };
      credentials.set(variable, found);
    }
    return found;
  };
  for (const { key, env, config } of registry.surfaces) {
    const online = onlineOf(config);
    if (!online) continue;
    const labels = { env, surface: config.name, provider: config.provider };
    const target = online.accessTarget?.(config);
    for (const use of online.credentials(config)) {
      if (use.readLifecycle && !use.lifecycle) {
        const declared = need(use.variable, 'provider_declared', use.lifecycleKind ?? 'provider_declared');
        declared.readLifecycle = use.readLifecycle;
        declared.surfaces.push({ key, labels, url: undefined, application: undefined });
        continue;
      }
      if (!use.lifecycle) continue;
      need(use.variable, use.lifecycle).surfaces.push({
        key,
        labels,
        url:
          use.lifecycle === 'access_service_token' && target?.variable === use.variable
            ? target.url
            : undefined,
        application: use.lifecycle === 'access_service_token' ? accessAppOf(config) : undefined,
      });
    }
  }
  need(settings.management_token_env, 'cloudflare_api_token');
  return {
    intervalSeconds: settings.interval_seconds,
    managementVariable: settings.management_token_env,
    accountVariable: settings.account_id_env,
    credentials,
  };
}

/** The management token and account id, or why the watch is off. */
export function managementCredentials(
  needs: LifecycleNeeds,
  env: Env,
): { ok: true; token: string; accountId: string } | { ok: false; why: string } {
  const token = env[needs.managementVariable]?.trim();
  if (!token) return { ok: false, why: `${needs.managementVariable} unset` };
  const accountId = env[needs.accountVariable]?.trim();
  if (!accountId) return { ok: false, why: `${needs.accountVariable} unset` };
  return { ok: true, token, accountId };
}

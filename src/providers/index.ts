import { z } from 'zod';
import { CORE_CODE_DOCS, type ErrorCodeDoc } from '../core/codes.js';
import type { MetricFamily } from '../core/metricFamily.js';
import { cloudflarePagesProvider } from './cloudflare_pages/provider.js';
import type { Provider } from './contract.js';
import { herokuAppProvider } from './heroku_app/provider.js';
import { httpProvider } from './http/provider.js';
import { infisicalProvider } from './infisical/provider.js';
import { pushProvider } from './push/provider.js';

/**
 * THE list of providers. Adding one is its folder and a line here: the registry's schema union,
 * the code list, the README tables, the online checks and the metric families all derive from it.
 */
export const PROVIDERS = [
  httpProvider,
  herokuAppProvider,
  cloudflarePagesProvider,
  infisicalProvider,
  pushProvider,
] as const;

// biome-ignore lint/suspicious/noExplicitAny: any provider's schema and codes
type SchemasOf<T extends readonly Provider<any, any>[]> = { -readonly [K in keyof T]: T[K]['schema'] };

export const surfaceSchema = z.discriminatedUnion(
  'provider',
  PROVIDERS.map((provider) => provider.schema) as unknown as SchemasOf<typeof PROVIDERS>,
);

export type SurfaceConfig = z.infer<typeof surfaceSchema>;
export type ProviderName = SurfaceConfig['provider'];
export const PROVIDER_NAMES = PROVIDERS.map((provider) => provider.name) as ProviderName[];

const BY_NAME = new Map<string, Provider>(PROVIDERS.map((provider) => [provider.name, provider as Provider]));

/** The provider of a surface; the schema union guarantees there is one. */
export function providerFor(surface: SurfaceConfig): Provider {
  return BY_NAME.get(surface.provider) as Provider;
}

/** Every code a probe can return, once each: the core's, then each provider's in list order. */
export const ERROR_CODE_DOCS: readonly ErrorCodeDoc[] = (() => {
  const byCode = new Map<string, ErrorCodeDoc>();
  for (const doc of [...CORE_CODE_DOCS, ...PROVIDERS.flatMap((provider) => provider.codes)])
    if (!byCode.has(doc.code)) byCode.set(doc.code, doc);
  return [...byCode.values()];
})();

/** The per-surface metric families that providers add to the common ones, once each (several share some). */
export const PROVIDER_FAMILIES: readonly MetricFamily[] = [
  ...new Map(
    PROVIDERS.flatMap((provider) => (provider as Provider).families ?? []).map((family) => [
      family.name,
      family,
    ]),
  ).values(),
];

import { z } from 'zod';
import { cloudflarePagesProvider, cloudflarePagesSurface } from './cloudflarePages.js';
import { herokuAppProvider, herokuAppSurface } from './heroku.js';
import { httpProvider, httpSurface } from './http.js';
import { infisicalProvider, infisicalSurface } from './infisical.js';
import type { Provider } from './types.js';

/** Adding a provider: its file, one schema here and one entry in `providers`; the compiler checks the pair. */
export const surfaceSchema = z.discriminatedUnion('provider', [
  httpSurface,
  herokuAppSurface,
  cloudflarePagesSurface,
  infisicalSurface,
]);

export type SurfaceConfig = z.infer<typeof surfaceSchema>;
export type ProviderName = SurfaceConfig['provider'];

type ProviderTable = { [K in ProviderName]: Provider<Extract<SurfaceConfig, { provider: K }>> };

export const providers = {
  http: httpProvider,
  heroku_app: herokuAppProvider,
  cloudflare_pages: cloudflarePagesProvider,
  infisical: infisicalProvider,
} satisfies ProviderTable;

export function providerFor<S extends SurfaceConfig>(surface: S): Provider<S> {
  return (providers as ProviderTable)[surface.provider] as unknown as Provider<S>;
}

export const PROVIDER_NAMES = Object.keys(providers) as ProviderName[];

import { z } from 'zod';
import { httpProvider, httpSurface } from './http.js';
import type { Provider } from './types.js';

/** Adding a provider: its file, one schema here and one entry in `providers`; the compiler checks the pair. */
export const surfaceSchema = z.discriminatedUnion('provider', [httpSurface]);

export type SurfaceConfig = z.infer<typeof surfaceSchema>;
export type ProviderName = SurfaceConfig['provider'];

type ProviderTable = { [K in ProviderName]: Provider<Extract<SurfaceConfig, { provider: K }>> };

export const providers = {
  http: httpProvider,
} satisfies ProviderTable;

export function providerFor<S extends SurfaceConfig>(surface: S): Provider<S> {
  return (providers as ProviderTable)[surface.provider] as unknown as Provider<S>;
}

export const PROVIDER_NAMES = Object.keys(providers) as ProviderName[];

import { z } from 'zod';

// Upper case and short, as variable names are: a pasted token almost never fits, so it is refused
// here instead of being echoed later as `skipped: <token> unset`.
export const ENV_VAR_NAME = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'an environment variable name ([A-Z0-9_], at most 64 characters)');

/** Fields every surface has, whatever its provider; each provider's schema extends this. */
export const surfaceBase = z.object({
  name: z
    .string()
    .regex(/^[a-z0-9-]{1,63}$/, 'lowercase letters, digits and dashes ([a-z0-9-]), at most 63 characters')
    .describe('Surface name, unique within its environment; the `surface` label.'),
});

/** The labels every per-surface series carries. */
export type SurfaceLabels = {
  env: string;
  surface: string;
  provider: string;
};

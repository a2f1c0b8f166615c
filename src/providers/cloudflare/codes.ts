import type { CodeOf, ErrorCodeDoc } from '../../core/codes.js';

/** Cloudflare v4 API answers that no other provider has. */
export const CLOUDFLARE_API_CODE_DOCS = [
  {
    code: 'api_error',
    status: 'degraded',
    meaning: 'Cloudflare answered `success:false` with a code not listed here; the code is in the detail.',
    action: 'Look the code up in the Cloudflare API docs.',
  },
] as const satisfies readonly ErrorCodeDoc[];

export type CloudflareApiCode = CodeOf<typeof CLOUDFLARE_API_CODE_DOCS>;

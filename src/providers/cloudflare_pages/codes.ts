import type { CodeOf, ErrorCodeDoc } from '../../core/codes.js';

export const CLOUDFLARE_PAGES_CODE_DOCS = [
  {
    code: 'deploy_failure',
    status: 'degraded',
    meaning:
      'The newest Cloudflare Pages deployment that was not skipped failed (skipped ones are named in the detail).',
    action: 'Read the build log in the Pages dashboard, fix, and push or retry the deployment.',
    replaces: '"deploy_* error"',
  },
  {
    code: 'deploy_building',
    status: 'degraded',
    meaning:
      'The newest Pages deployment that was not skipped is queued or building. Alerts fire only after 10 minutes.',
    action: 'Wait; past 10 minutes cancel and retrigger the deployment.',
    replaces: '"deploy_* error" (building > 10 min)',
  },
  {
    code: 'deploy_canceled',
    status: 'degraded',
    meaning: 'The newest Pages deployment was canceled.',
    action: 'Retrigger a deployment.',
  },
  {
    code: 'no_deployments',
    status: 'degraded',
    meaning:
      'The Pages project has no deployment in the configured environment (and `branch`), or every one in the newest 2 pages (50) was skipped by watch paths, branch rules or [CI Skip].',
    action:
      'Deploy once, point `environment`/`branch` at ones that have deployments, or check the build watch paths and branch controls that skip every build.',
  },
] as const satisfies readonly ErrorCodeDoc[];

export type CloudflarePagesCode = CodeOf<typeof CLOUDFLARE_PAGES_CODE_DOCS>;

import type { ErrorCodeDoc } from '../../core/codes.js';

export const PUSH_CODE_DOCS = [
  {
    code: 'push_failed',
    status: 'degraded',
    meaning:
      'The surface’s own job pushed `status=fail` (POST /api/push/{env}/{surface}); the detail is what the job sent.',
    action:
      'Read the job’s logs (for a Heroku Scheduler job: `heroku logs --app APP --dyno scheduler`); the next `status=ok` push clears it.',
  },
  {
    code: 'push_missed',
    status: 'down',
    meaning:
      'No push arrived within `heartbeat_seconds` (on the monotonic clock): the job did not run, did not finish, or cannot reach the exporter.',
    action:
      'Check that the job ran (scheduler history), that its curl reached /api/push with the token of `token_env` (a 401 means a wrong token), and that heartbeat_seconds exceeds the job’s period.',
  },
] as const satisfies readonly ErrorCodeDoc[];

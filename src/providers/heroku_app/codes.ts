import type { CodeOf, ErrorCodeDoc } from '../../core/codes.js';

export const HEROKU_APP_CODE_DOCS = [
  {
    code: 'app_not_found',
    status: 'degraded',
    meaning: 'The Heroku API does not know the app (404).',
    action:
      'Correct `app` in the registry or remove the surface (`surface-exporter check-config --online` lists them).',
  },
  {
    code: 'no_web_dyno',
    status: 'down',
    meaning: 'The app has no `web` process type, or it is scaled to 0.',
    action: 'Deploy the app, or `heroku ps:scale web=1 --app APP`.',
    replaces: '"health_http_502 or health_no_response" (0 dynos)',
  },
  {
    code: 'dyno_crashed',
    status: 'degraded',
    meaning:
      'Some listed web dynos are `crashed` or `down` (DEGRADED), or none serves and none is starting (DOWN). Counts and states are in the detail; a dyno missing from the list or in a state Heroku does not document is named, never counted as crashed.',
    action: '`heroku logs --tail --app APP` for the crash, then `heroku restart`.',
    replaces: '"health_http_502 or health_no_response" (crashed on startup)',
  },
  {
    code: 'dyno_starting',
    status: 'degraded',
    meaning:
      'No web dyno serves and some are `starting` (or `created`): a restart or a deploy is in progress. The app is not asked meanwhile.',
    action:
      'Usually passes within a minute or two; if it lasts, `heroku logs --tail --app APP` for a boot that never binds $PORT (R10 boot timeout) and `heroku releases --app APP`.',
  },
  {
    code: 'maintenance_mode',
    status: 'degraded',
    meaning: 'The Heroku app is in maintenance mode, so Heroku serves its maintenance page.',
    action: '`heroku maintenance:off --app APP` when the work is done.',
  },
] as const satisfies readonly ErrorCodeDoc[];

export type HerokuAppCode = CodeOf<typeof HEROKU_APP_CODE_DOCS>;

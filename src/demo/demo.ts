import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import { type RunningExporter, startExporter } from '../app/exporter.js';
import { parseRegistry } from '../config/load.js';
import type { Env } from '../core/env.js';
import { type AccessGateFake, startAccessGate } from '../providers/cloudflare/accessGateFake.js';
import { type CloudflareFake, startCloudflareApi } from '../providers/cloudflare/fake.js';
import { type HerokuFake, startHerokuApi } from '../providers/heroku_app/fake.js';
import { type InfisicalFake, startInfisical } from '../providers/infisical/fake.js';
import { aroundNow, startTlsFake, TestPki, type TlsFake } from '../providers/shared/tlsFake.js';

export interface DemoOptions {
  env: Env;
  log: Logger;
  listen: { host: string; port: number };
  pollerEnabled: boolean;
  /** FORCE_POLL_TOKEN as the operator set it; the demo makes one up when it is unset. */
  operatorToken?: string;
}

export interface RunningDemo {
  exporter: RunningExporter;
  /** The short text printed at start: where to look, and how to leave the demo. */
  banner: string;
  /** The bearer token of the operator endpoints (generated unless FORCE_POLL_TOKEN was set). */
  operatorToken: string;
  /** The registry the demo runs, as YAML, e.g. for a Prometheus stack to label. */
  registryYaml: string;
  /** The environment the exporter runs with, demo secrets included: for tests that look for leaks. */
  env: Env;
  stop(): Promise<void>;
}

/**
 * How the demo routes alerts: prod pages its teams; staging only tickets, except its DOWN console,
 * which pages (a surface's own severity wins); the failed Pages build sits in a maintenance window,
 * so it shows `"maintenance": true` and raises nothing.
 */
export const DEMO_ROUTING = {
  ticketSurface: 'staging/api-staging',
  maintenanceSurface: 'prod/mockups',
  teams: { 'prod/api-prod': 'backend', 'prod/vault': 'security', 'staging/api-staging': 'platform' },
} as const;

/** The states the demo promises, by surface key; README and tests name the same set. */
export const DEMO_STATES: Readonly<Record<string, { status: string; code: string | null }>> = {
  'prod/api-prod': { status: 'up', code: null },
  'prod/site': { status: 'up', code: null },
  'prod/vault': { status: 'up', code: null },
  'prod/mockups': { status: 'degraded', code: 'deploy_failure' },
  'prod/app-previews': { status: 'degraded', code: 'deploy_building' },
  'prod/console-public': { status: 'degraded', code: 'access_gate_redirect' },
  'prod/console-gate': { status: 'up', code: null },
  'prod/billing': { status: 'up', code: null },
  'prod/status-api': { status: 'degraded', code: 'json_mismatch' },
  // Fed by the demo itself, as a Heroku Scheduler job would with curl.
  'prod/nightly-sync': { status: 'up', code: null },
  'staging/api-staging': { status: 'degraded', code: 'health_http_502' },
  'staging/console-staging': { status: 'down', code: 'no_web_dyno' },
  'staging/console-public': { status: 'degraded', code: 'skipped_credentials' },
};

/** What the credential watch shows in the demo, by variable; README and tests name the same. */
export const DEMO_CREDENTIALS = {
  CF_ACCESS_SERVICE_TOKEN_VAULT: { expiresInDays: 5, enrolled: true },
  CF_ACCESS_SERVICE_TOKEN_CONSOLE: { expiresInDays: 200, enrolled: false },
} as const;

// Short enough that every state shows within seconds of starting, long enough to read the logs.
/** The demo's stand-in for a scheduled job pushes this often, well inside its heartbeat. */
const DEMO_PUSH_EVERY_MS = 20_000;
const DEMO_PUSH_HEARTBEAT_SECONDS = 60;

const DEMO_POLLER = {
  interval_seconds: 5,
  timeout_seconds: 3,
  stale_after_seconds: 30,
  metadata_ttl_seconds: 10,
  confirm_after_seconds: 1,
};

interface DemoFakes {
  heroku: HerokuFake;
  cloudflare: CloudflareFake;
  infisical: InfisicalFake;
  vaultGate: AccessGateFake;
  consoleGate: AccessGateFake;
  /** HTTPS with a private CA whose leaf expires in 2 days: SurfaceCertificateExpiring fires. */
  billing: TlsFake;
  billingCa: string;
}

/** Days left on the billing leaf; the expiry alerts fire under 21 and 3. */
export const DEMO_CERTIFICATE_DAYS = 2;

/**
 * Starts fakes of every provider on loopback and the real exporter in front of them, with a
 * registry that shows each interesting state. Secrets are demo values made up here; the caller's
 * real credentials are never passed to the exporter.
 */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const secrets = {
    herokuKey: `HRKU-demo-${randomBytes(16).toString('hex')}`,
    cloudflareToken: `demo${randomBytes(18).toString('hex')}`,
    accessMgmtToken: `demo${randomBytes(18).toString('hex')}`,
  };
  const started: Array<{ close(): Promise<void> }> = [];
  const track = <T extends { close(): Promise<void> }>(fake: T): T => {
    started.push(fake);
    return fake;
  };
  const closeFakes = () => Promise.all(started.map((fake) => fake.close())).then(() => undefined);
  try {
    const heroku = track(await startHerokuApi({ apiKeys: [secrets.herokuKey] }));
    const cloudflare = track(
      await startCloudflareApi({ tokens: [secrets.cloudflareToken, secrets.accessMgmtToken] }),
    );
    const infisical = track(await startInfisical());
    const vaultGate = track(await startAccessGate({ target: infisical.url, hostname: 'vault.demo.invalid' }));
    const consoleGate = track(
      await startAccessGate({ target: heroku.router.url, hostname: 'console.demo.invalid' }),
    );
    // Made at run time (openssl), so no key is committed; removed when the demo stops.
    const pki = new TestPki();
    started.push({ close: async () => pki.remove() });
    const root = pki.root('Demo Private CA');
    const leaf = pki.issue({
      subject: 'billing.demo.invalid',
      issuer: root,
      validity: aroundNow(DEMO_CERTIFICATE_DAYS),
      sans: ['DNS:billing.demo.invalid', 'IP:127.0.0.1'],
    });
    const billing = track(
      await startTlsFake(leaf, [], (req, res) => {
        res.setHeader('content-type', 'application/json');
        // The status document names a dependency that is down: the JSON condition fails on it.
        res.end(
          req.url === '/status.json'
            ? '{"status":"ok","checks":{"db":"down","queue":"up"}}'
            : '{"status":"ok"}',
        );
      }),
    );
    const fakes: DemoFakes = {
      heroku,
      cloudflare,
      infisical,
      vaultGate,
      consoleGate,
      billing,
      billingCa: root.certPath,
    };
    stageScenario(fakes);

    const vaultToken = vaultGate.createServiceToken();
    vaultGate.enroll(vaultToken.clientId);
    // Valid, but in no Service Auth policy: the runbook's "302 to CF Access login" prerequisite.
    const consoleToken = consoleGate.createServiceToken();
    stageCredentials(cloudflare, vaultToken.clientId, consoleToken.clientId);
    // A CLI-session key: Heroku lets those live a year at most.
    heroku.setKeyExpiry(secrets.herokuKey, new Date(Date.now() + 300 * 86_400_000));

    const operatorToken = options.operatorToken ?? randomBytes(24).toString('base64url');
    const pushToken = randomBytes(24).toString('base64url');
    const env: Env = {
      ...options.env,
      FORCE_POLL_TOKEN: operatorToken,
      HEROKU_API_URL: heroku.url,
      CLOUDFLARE_API_URL: cloudflare.url,
      HEROKU_API_KEY: secrets.herokuKey,
      CLOUDFLARE_PAGES_READ_TOKEN: secrets.cloudflareToken,
      CLOUDFLARE_ACCOUNT_ID: cloudflare.accountId,
      CLOUDFLARE_ACCESS_MGMT_TOKEN: secrets.accessMgmtToken,
      CF_ACCESS_SERVICE_TOKEN_VAULT: `${vaultToken.clientId}:${vaultToken.clientSecret}`,
      CF_ACCESS_SERVICE_TOKEN_CONSOLE: `${consoleToken.clientId}:${consoleToken.clientSecret}`,
      DEMO_PUSH_TOKEN: pushToken,
      // Left unset on purpose: the surface using it shows skipped_credentials.
      CF_ACCESS_SERVICE_TOKEN_CONSOLE_STAGING: undefined,
    };
    const registryYaml = stringify(demoRegistry(fakes));
    const exporter = await startExporter({
      registry: parseRegistry(registryYaml, 'demo registry (built in)'),
      host: options.listen.host,
      port: options.listen.port,
      pollerEnabled: options.pollerEnabled,
      env,
      log: options.log,
    });
    const stopJob = startDemoJob(exporter.url, pushToken, options.log);
    options.log.warn(
      {
        event: 'demo_started',
        status_page: exporter.statusPageUrl,
        url: exporter.url,
        listening: exporter.listening,
        surfaces: Object.keys(DEMO_STATES).length,
      },
      `${exporter.statusPageUrl ? `status page ${exporter.statusPageUrl}: ` : ''}running the built-in demo: every surface is a local fake (give a registry to watch real ones)`,
    );
    return {
      exporter,
      operatorToken,
      registryYaml,
      env,
      banner: banner(
        exporter.url,
        exporter.listening,
        exporter.statusPageUrl,
        options.operatorToken ? '$FORCE_POLL_TOKEN' : operatorToken,
      ),
      stop: async () => {
        stopJob();
        await exporter.stop();
        await closeFakes();
      },
    };
  } catch (err) {
    await closeFakes();
    throw err;
  }
}

function stageScenario({ heroku, cloudflare, infisical }: DemoFakes): void {
  heroku.addApp({ name: 'demo-api-prod' });
  heroku.addApp({ name: 'demo-console-prod' });
  heroku.addApp({ name: 'demo-api-staging', healthStatus: 502 });
  heroku.addApp({ name: 'demo-console-staging', webQuantity: 0 });

  cloudflare.addProject('demo-site');
  cloudflare.addDeployment('demo-site', {
    stage: 'deploy',
    status: 'success',
    createdOn: new Date(Date.now() - 3_600_000),
  });
  // Newer, but skipped by the build watch paths: it sits at queued/idle and must not read as building.
  cloudflare.addDeployment('demo-site', { stage: 'queued', status: 'idle', skipped: 'path_config' });
  cloudflare.addProject('demo-mockups');
  cloudflare.addDeployment('demo-mockups', { stage: 'deploy', status: 'success' });
  cloudflare.addDeployment('demo-mockups', { stage: 'build', status: 'failure' });
  cloudflare.addProject('demo-app-previews');
  cloudflare.addDeployment('demo-app-previews', { environment: 'preview', stage: 'build', status: 'active' });

  infisical.setMode('healthy');
}

/**
 * The Access management API behind the gates: the vault token expires in 5 days (CredentialExpiring),
 * the console token is in no Service Auth policy of its application (AccessServiceTokenNotEnrolled).
 * Both gates listen on 127.0.0.1, so the applications tell them apart by path.
 */
function stageCredentials(cloudflare: CloudflareFake, vaultClientId: string, consoleClientId: string): void {
  const day = 86_400_000;
  // Half a day of margin so that "5 days" reads as 5 for the first hours of a demo.
  const vault = cloudflare.access.addServiceToken({
    name: 'demo-agent-vault-access',
    clientId: vaultClientId,
    expiresAt: new Date(
      Date.now() + (DEMO_CREDENTIALS.CF_ACCESS_SERVICE_TOKEN_VAULT.expiresInDays + 0.5) * day,
    ),
  });
  cloudflare.access.addServiceToken({
    name: 'demo-agent-console',
    clientId: consoleClientId,
    expiresAt: new Date(Date.now() + DEMO_CREDENTIALS.CF_ACCESS_SERVICE_TOKEN_CONSOLE.expiresInDays * day),
  });
  cloudflare.access.addApplication({
    name: 'vault',
    domain: '127.0.0.1/api/status',
    policies: [
      { name: 'agents', decision: 'non_identity', include: [{ service_token: { token_id: vault.id } }] },
    ],
  });
  cloudflare.access.addApplication({
    name: 'console',
    domain: '127.0.0.1/demo-console-prod',
    policies: [{ name: 'staff', decision: 'allow', include: [{ email: { email: 'ops@demo.invalid' } }] }],
  });
}

function demoRegistry({ consoleGate, vaultGate, billing, billingCa }: DemoFakes) {
  // The gate forwards to the fake Heroku router, where each app lives under /<app>/.
  const gatedConsole = `${consoleGate.url}/demo-console-prod/health`;
  // Opened an hour ago and open for a week, so it covers the whole demo.
  const now = Date.now();
  const window = {
    from: new Date(now - 3_600_000).toISOString(),
    to: new Date(now + 7 * 86_400_000).toISOString(),
  };
  return {
    poller: DEMO_POLLER,
    environment_defaults: {
      prod: { labels: { team: 'web' } },
      staging: { severity: 'ticket', labels: { team: 'platform' } },
    },
    environments: {
      prod: [
        { name: 'api-prod', provider: 'heroku_app', app: 'demo-api-prod', labels: { team: 'backend' } },
        { name: 'site', provider: 'cloudflare_pages', project: 'demo-site' },
        { name: 'mockups', provider: 'cloudflare_pages', project: 'demo-mockups', maintenance: [window] },
        {
          name: 'app-previews',
          provider: 'cloudflare_pages',
          project: 'demo-app-previews',
          environment: 'preview',
        },
        {
          name: 'console-public',
          provider: 'http',
          url: gatedConsole,
          access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE',
        },
        // The same console must stay gated: probed without a token, Access's login redirect is UP.
        { name: 'console-gate', provider: 'http', url: gatedConsole, expect_gate: true },
        {
          name: 'billing',
          provider: 'http',
          url: `${billing.url}/health`,
          ca_file: billingCa,
          expect: { status: 200, headers: { 'content-type': '^application/json' } },
        },
        {
          name: 'status-api',
          provider: 'http',
          url: `${billing.url}/status.json`,
          ca_file: billingCa,
          expect: { json: { status: 'ok', 'checks.db': 'up' }, max_duration_seconds: 2 },
        },
        {
          name: 'nightly-sync',
          provider: 'push',
          heartbeat_seconds: DEMO_PUSH_HEARTBEAT_SECONDS,
          token_env: 'DEMO_PUSH_TOKEN',
        },
        {
          name: 'vault',
          provider: 'infisical',
          url: vaultGate.url,
          access_token_env: 'CF_ACCESS_SERVICE_TOKEN_VAULT',
          labels: { team: 'security' },
        },
      ],
      staging: [
        { name: 'api-staging', provider: 'heroku_app', app: 'demo-api-staging' },
        { name: 'console-staging', provider: 'heroku_app', app: 'demo-console-staging', severity: 'page' },
        {
          name: 'console-public',
          provider: 'http',
          url: gatedConsole,
          access_token_env: 'CF_ACCESS_SERVICE_TOKEN_CONSOLE_STAGING',
        },
      ],
    },
  };
}

/** Pushes `status=ok` now and every DEMO_PUSH_EVERY_MS, as the README's Scheduler curl line does. */
function startDemoJob(url: string, token: string, log: Logger): () => void {
  const run = () =>
    fetch(`${url}/api/push/prod/nightly-sync?status=ok&duration_seconds=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    }).then(
      (res) => res.body?.cancel(),
      (err: unknown) => log.warn({ event: 'demo_push_failed', err: String(err) }, 'demo push failed'),
    );
  void run();
  const timer = setInterval(run, DEMO_PUSH_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

function banner(url: string, listening: string, statusPageUrl: string | undefined, token: string): string {
  const states = [
    ...new Set(
      Object.values(DEMO_STATES).map((state) =>
        state.code === null ? 'UP' : state.status === 'down' ? `${state.code} (DOWN)` : state.code,
      ),
    ),
  ];
  const intro = wrap(
    `surface-exporter demo: no registry given, so fakes of Heroku, Cloudflare Pages, Cloudflare Access and Infisical run on loopback behind ${Object.keys(DEMO_STATES).length} surfaces showing ${states.join(', ')}. First results arrive within ${DEMO_POLLER.interval_seconds} s.`,
  );
  // The page is what a newcomer should open first, so its address comes before anything else.
  const page = statusPageUrl ? `status page    ${statusPageUrl}\n` : '';
  return `
${page}
${intro}

  listening on   ${listening}
  metrics        ${url}/metrics
  health         ${url}/health
  poller status  curl -s -H 'Authorization: Bearer ${token}' ${url}/api/_internal/poller-status
  force a poll   curl -s -X POST -H 'Authorization: Bearer ${token}' ${url}/api/force-poll

With a real registry: cp examples/surfaces.yaml surfaces.yaml, edit it, export the credentials it
names, check it with \`node dist/main.js check-config --online\`, then \`npm start\` (or pass
--config FILE, or set SURFACE_EXPORTER_CONFIG). Ctrl-C stops the demo.

`;
}

/** Wraps banner text at word boundaries (the demo's and `npm run stack`'s banners). */
export function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join('\n');
}

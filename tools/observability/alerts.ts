import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { RateBudget } from '../../src/providers/contract.js';

/**
 * Every threshold the alert rules use, in seconds unless the name says otherwise. The runbook this
 * project replaces polls every 30 s, calls the poller stalled after 120 s and backs a crashed poller
 * off for at most 300 s; the numbers below follow from those three.
 */
export interface AlertThresholds {
  /** Runbook: "If poller_last_poll_at is > 120s old, the poller thread is stalled": four missed 30 s polls. */
  heartbeatStaleSeconds: number;
  /** The stale-tile symptom ("all tiles with checked_at > 120s old"), for one surface while the poller runs. */
  surfaceCheckStaleSeconds: number;
  /** An exporter nobody scrapes freezes every tile, as a stalled heartbeat does: same urgency. */
  exporterDownForSeconds: number;
  /** One replica of several is down: nothing is unwatched, so it waits longer than a restart or a deploy. */
  exporterReplicaDownForSeconds: number;
  /** The worker backoff tops out at 300 s: dead for longer than one full backoff means it is not coming back. */
  workerDeadForSeconds: number;
  /**
   * Two more 30 s polls after the confirming probe: a single lost probe never reaches Prometheus
   * (confirmation), and a dyno restart or a deploy's swap is over within a minute.
   */
  surfaceDownForSeconds: number;
  /**
   * As for DOWN: the confirmation already absorbed a lost probe, and one minute covers a restart.
   * Detection (up to one interval), confirmation (5 s), scrape, this, evaluation and Alertmanager's
   * group_wait then page about two minutes after the site dies, within the three-minute target.
   */
  surfaceUnreachableForSeconds: number;
  /**
   * A whole egress outage is at least as sure as one site's: same minute. The per-surface alerts it
   * suppresses are suppressed from the first evaluation the condition holds, not after this.
   */
  exporterBlindForSeconds: number;
  /** Share of one replica's surfaces failing with network codes at once that means the replica is blind. */
  blindFraction: number;
  /** Below three surfaces a "share" is one or two sites, which can really be down together: they page. */
  blindMinSurfaces: number;
  /** A ticket, not a page: ten polls in a row rule out a blip, a restart or a short provider hiccup. */
  surfaceDegradedForSeconds: number;
  /** A reload or a deploy can briefly run without a variable; five minutes means it is really missing. */
  credentialsMissingForSeconds: number;
  /** Access policy edits take effect within a minute or two; five minutes means the token is really rejected. */
  accessGateRejectingForSeconds: number;
  /** Runbook: "If deploy_building persists > 10 min, cancel and retrigger the deployment". Measured from created_on. */
  deployBuildingSeconds: number;
  /** A failed build is often retried at once; the previous deployment keeps serving meanwhile. */
  deployFailedForSeconds: number;
  /** A project created or renamed with its registry entry can 404 for a few minutes; after 15 the registry is wrong. */
  pagesProjectNotFoundForSeconds: number;
  /** Below this share of the budget the next burst ends in 429s that blind every surface of the provider. */
  rateBudgetLowFraction: number;
  /** Budgets refill continuously (Heroku about 75 calls a minute): a short dip refills by itself. */
  rateBudgetLowForSeconds: number;
  /** Window of the probe_crashed rate: ten 30 s polls, so one crash keeps it above 0 for five minutes. */
  probeCrashRateWindowSeconds: number;
  /** One crash is a log line; crashing for ten minutes is a bug that blinds the surface. */
  probesCrashingForSeconds: number;
  /** Someone editing the registry may save a broken file and fix it a minute later (with --watch-config). */
  configReloadFailedForSeconds: number;
  /** A rolling reshard replaces one pod at a time, each in well under a minute: 15 minutes of disagreement is a stuck rollout. */
  shardingMismatchForSeconds: number;
  /** blackbox's mixin and most CAs' renewal windows: a 90-day certificate renews at 30 days left, so 21 means renewal failed. */
  certificateTicketDays: number;
  /** Three days leaves a working day or two to renew by hand after a weekend. */
  certificatePageDays: number;
  /** One replica on a stale edge, or a probe between a rotation's two certificates, does not alert. */
  certificateExpiringForSeconds: number;
  /**
   * A burst (start-up, a reload, many targets starting to hang at once) drains within one probe
   * timeout; a queue that has not emptied for ten minutes means poller.concurrency is too small
   * for the registry, and every queued probe starts up to one timeout late.
   */
  probeQueueBacklogForSeconds: number;
  /** Cloudflare's own expiring_service_token_alert warns a month ahead: time to plan a rotation (ticket). */
  credentialExpiringSoonDays: number;
  /** A week: the runbook's escalation ("revoked or expires") must reach the operator on a working day (page). */
  credentialExpiringDays: number;
  /** An expiry alert must not come from one odd read (a replica's clock, a reload): a quarter of an hour confirms it. */
  credentialExpiringForSeconds: number;
  /** The watch reads once an hour, so one bad read is already an hour old; a few minutes absorb a reload. */
  credentialInvalidForSeconds: number;
  /** Policy edits in the dashboard take a minute; ten minutes of "not enrolled" is a missing enrollment. */
  accessTokenNotEnrolledForSeconds: number;
  /** An exposure, not an outage: two 30 s probes in a row rule out one odd answer during a policy edit. */
  accessGateMissingForSeconds: number;
}

export const ALERT_THRESHOLDS: AlertThresholds = {
  heartbeatStaleSeconds: 120,
  surfaceCheckStaleSeconds: 120,
  exporterDownForSeconds: 120,
  exporterReplicaDownForSeconds: 600,
  workerDeadForSeconds: 300,
  surfaceDownForSeconds: 60,
  surfaceUnreachableForSeconds: 60,
  exporterBlindForSeconds: 60,
  blindFraction: 0.8,
  blindMinSurfaces: 3,
  surfaceDegradedForSeconds: 300,
  credentialsMissingForSeconds: 300,
  accessGateRejectingForSeconds: 300,
  deployBuildingSeconds: 600,
  deployFailedForSeconds: 300,
  pagesProjectNotFoundForSeconds: 900,
  rateBudgetLowFraction: 0.1,
  rateBudgetLowForSeconds: 300,
  probeCrashRateWindowSeconds: 300,
  probesCrashingForSeconds: 600,
  configReloadFailedForSeconds: 300,
  shardingMismatchForSeconds: 900,
  certificateTicketDays: 21,
  certificatePageDays: 3,
  certificateExpiringForSeconds: 600,
  probeQueueBacklogForSeconds: 600,
  credentialExpiringSoonDays: 30,
  credentialExpiringDays: 7,
  credentialExpiringForSeconds: 900,
  credentialInvalidForSeconds: 300,
  accessTokenNotEnrolledForSeconds: 600,
  accessGateMissingForSeconds: 60,
};

/**
 * The API budgets the providers grant, and the surface provider that spends each one. Their size is
 * not written here: the exporter exports it (surface_provider_rate_limit_quota), from Cloudflare's
 * Ratelimit-Policy and from Heroku's documented pool, so a raised limit needs no new rules.
 */
export const PROVIDER_RATE_BUDGETS = {
  // Heroku: a pool of 4,500 tokens per account, refilled at about 75 a minute.
  heroku: { per: 'an hour', surfaceProvider: 'heroku_app' },
  // Cloudflare: 1,200 requests per 5 minutes per user; past it every call is refused for 5 minutes.
  cloudflare: { per: '5 minutes', surfaceProvider: 'cloudflare_pages' },
} as const satisfies Record<RateBudget, { per: string; surfaceProvider: string }>;

/**
 * Where runbook_url points when nobody has said where the runbook is published. `.invalid` never
 * resolves (RFC 2606), so an unconfigured link fails on the first click instead of opening a
 * repository this project does not own; README's Alerts section gives the command that sets it.
 */
export const PLACEHOLDER_RUNBOOK_BASE_URL = 'https://runbook-base-url.invalid/docs/runbook.md';

/** docs/runbook.md in the package's `repository` (GitHub or GitLab style), when package.json has one. */
export function repositoryRunbookUrl(repository: unknown): string | undefined {
  const raw =
    typeof repository === 'string' ? repository : (repository as { url?: unknown } | undefined)?.url;
  if (typeof raw !== 'string') return undefined;
  const match = /^(?:git\+)?(?:https?:\/\/|git@|ssh:\/\/git@)([^/:]+)[/:](.+?)(?:\.git)?\/?$/.exec(
    raw.trim(),
  );
  if (!match) return undefined;
  const [, host, path] = match;
  return `https://${host}/${path}/${host === 'gitlab.com' ? '-/' : ''}blob/HEAD/docs/runbook.md`;
}

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  repository?: unknown;
};

/** The package's own repository once package.json names one, else the placeholder. */
export const DEFAULT_RUNBOOK_BASE_URL =
  repositoryRunbookUrl(packageJson.repository) ?? PLACEHOLDER_RUNBOOK_BASE_URL;
export const DEFAULT_JOB_SELECTOR = 'job="surface-exporter"';

export interface AlertOptions {
  /** Label matchers of the exporter's scrape job, e.g. `job="surface-exporter"`. */
  jobSelector: string;
  /** The runbook document; each alert links to `<runbookBaseUrl>#<alert name in lower case>`. */
  runbookBaseUrl: string;
  thresholds: AlertThresholds;
}

export const DEFAULT_ALERT_OPTIONS: AlertOptions = {
  jobSelector: DEFAULT_JOB_SELECTOR,
  runbookBaseUrl: DEFAULT_RUNBOOK_BASE_URL,
  thresholds: ALERT_THRESHOLDS,
};

export type Severity = 'page' | 'ticket';

/**
 * One alert with what the README table and the runbook say about it. `surface`: the severity
 * comes from the surface's `surface_info` (its registry `severity`), so a ticket surface never pages.
 */
export interface AlertDefinition {
  name: string;
  severity: Severity | 'surface';
  /** When it fires, in words, for the README table. */
  firesWhen: string;
  /** Seconds the condition must hold; 0 when the threshold is itself an age. */
  forSeconds: number;
  expr: string;
  /** Labels added to the ones the expression carries. */
  extraLabels?: Record<string, string>;
  summary: string;
  description: string;
}

export interface PrometheusAlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface PrometheusRuleFile {
  groups: Array<{ name: string; rules: PrometheusAlertingRule[] }>;
}

/** Codes with an alert of their own; the generic DEGRADED alert leaves them out so one cause pages once. */
const CODES_WITH_OWN_ALERT = [
  'skipped_credentials',
  'access_gate_redirect',
  'access_denied',
  'access_gate_missing',
  'deploy_building',
  'deploy_failure',
  'probe_crashed',
] as const;

/** A code, or a family of HTTP statuses, and the provider it is limited to. */
export interface CodeFamilyMember {
  /** As the README lists it, e.g. `health_http_5xx`. */
  code: string;
  /** The PromQL regex of the code label. */
  pattern: string;
  /** Only this provider's surfaces: other providers use the same code for their API, not the site. */
  provider?: string;
  /** Failed below HTTP: what a replica whose own network or DNS broke sees on every surface. */
  network: boolean;
}

/**
 * THE "cannot reach or serve" family: SurfaceUnreachable pages on it, SurfaceDegraded leaves it out,
 * and its network-level part is what SurfaceExporterBlind counts. The README lists it from here.
 */
export const UNREACHABLE_CODES: readonly CodeFamilyMember[] = [
  { code: 'health_no_response', pattern: 'health_no_response', network: true },
  { code: 'probe_timeout', pattern: 'probe_timeout', network: true },
  { code: 'connection_error', pattern: 'connection_error', network: true },
  { code: 'tls_error', pattern: 'tls_error', network: true },
  { code: 'health_http_5xx', pattern: 'health_http_5..', network: false },
  { code: 'http_5xx', pattern: 'http_5..', provider: 'infisical', network: false },
];

/** The codes a surface reports when its credential is refused; CredentialInvalid silences only these. */
export const CREDENTIAL_AUTH_CODES = ['api_auth_failed', 'access_gate_redirect', 'access_denied'] as const;

/** The alert definitions, thresholds and job selector applied. */
export function alertDefinitions(options: AlertOptions = DEFAULT_ALERT_OPTIONS): AlertDefinition[] {
  const t = options.thresholds;
  const q = new Queries(options.jobSelector);
  const surface = '{{ $labels.env }}/{{ $labels.surface }} ({{ $labels.provider }})';
  const currentCode = q.currentCodeTemplate();
  return [
    {
      name: 'SurfaceExporterDown',
      severity: 'page',
      firesWhen: 'no replica of the exporter answers its scrape (down or absent)',
      forSeconds: t.exporterDownForSeconds,
      expr: `# Down: every replica fails its scrape. Absent: no target left in service discovery.\nmax by (job) (up{${options.jobSelector}}) == 0\nor\nabsent(up{${options.jobSelector}})`,
      summary: 'No surface-exporter replica is up.',
      description: `No target of job {{ $labels.job }} has answered a scrape for ${humanDuration(t.exporterDownForSeconds)}: no surface is watched and no other alert of this exporter can fire.`,
    },
    {
      name: 'SurfaceExporterReplicaDown',
      severity: 'ticket',
      firesWhen: 'one replica is down while another replica of its shard still answers',
      forSeconds: t.exporterReplicaDownForSeconds,
      expr: `(up{${options.jobSelector}} == 0)\n# Only while another replica of its shard is up: when none is, SurfaceExporterShardsMissing pages instead.\nand on (job, shard) (count by (job, shard) (up{${options.jobSelector}} == 1) > 0)`,
      summary: 'One surface-exporter replica is down.',
      description: `{{ $labels.instance }}{{ with $labels.shard }} (shard {{ . }}){{ end }} has failed its scrapes for ${humanDuration(t.exporterReplicaDownForSeconds)}; the other replicas of its shard still probe its surfaces.`,
    },
    ...shardAlerts(options),
    {
      name: 'SurfaceExporterBlind',
      severity: 'page',
      firesWhen: `at least ${t.blindFraction * 100} % and at least ${t.blindMinSurfaces} of one replica's surfaces fail with network-level codes (${UNREACHABLE_CODES.filter(
        (member) => member.network,
      )
        .map((member) => `\`${member.code}\``)
        .join(
          ', ',
        )}) for ${humanDuration(t.exporterBlindForSeconds)}; that replica's SurfaceUnreachable and SurfaceDown stay quiet meanwhile`,
      forSeconds: t.exporterBlindForSeconds,
      expr: q.blindReplicas(t),
      summary: 'A surface-exporter replica cannot reach most of its surfaces: its own network is broken.',
      description: `{{ $labels.instance }} sees {{ $value | humanizePercentage }} of its surfaces fail below HTTP (no response, timeout, connection or TLS error) for ${humanDuration(t.exporterBlindForSeconds)}: its egress, DNS or proxy is broken, not the sites. Its per-surface SurfaceUnreachable and SurfaceDown pages are held back meanwhile.`,
    },
    {
      name: 'SurfacePollerHeartbeatStale',
      severity: 'page',
      firesWhen: `no probe has completed in an environment (on one shard) for more than ${humanDuration(t.heartbeatStaleSeconds)}`,
      forSeconds: 0,
      expr: `${q.heartbeatAge()}\n> ${t.heartbeatStaleSeconds}`,
      summary: 'The surface poller has stopped.',
      description: `No probe has completed in env {{ $labels.env }}{{ with $labels.shard }} on shard {{ . }}{{ end }} for {{ $value | humanizeDuration }} (limit ${humanDuration(t.heartbeatStaleSeconds)}): every tile of {{ $labels.env }}{{ with $labels.shard }} that shard {{ . }} watches{{ end }} is frozen at its last state.`,
    },
    {
      name: 'SurfaceWorkerDead',
      severity: 'ticket',
      firesWhen: `a surface's worker loop has been dead for ${humanDuration(t.workerDeadForSeconds)}`,
      forSeconds: t.workerDeadForSeconds,
      expr: q.perSurface(
        `(max by (env, surface, provider) (surface_worker_alive{${options.jobSelector}}) == 0)\n${q.unlessHeartbeatStale(t)}`,
      ),
      summary: "A surface's worker loop is dead.",
      description: `The worker of ${surface} has been dead for ${humanDuration(t.workerDeadForSeconds)}, one full maximum backoff, so it is not restarting by itself. Current code: ${currentCode}.`,
    },
    {
      name: 'SurfaceUnreachable',
      severity: 'surface',
      firesWhen: `a surface's current code says it cannot be reached or cannot serve (${UNREACHABLE_CODES.map((member) => `\`${member.code}\``).join(', ')}) for ${humanDuration(t.surfaceUnreachableForSeconds)}`,
      forSeconds: t.surfaceUnreachableForSeconds,
      expr: q.perSurface(
        [
          '# 1 where a replica sees a cannot-reach-or-serve code, 0 where it sees anything else; every',
          "# replica must see it (min), so one replica's network does not page. Blind replicas do not count.",
          'min by (env, surface, provider) (',
          '  (',
          `    (surface_up{${options.jobSelector}} * 0 + 1 and on (job, instance, env, surface) (${q.unreachable()}))`,
          `    or surface_up{${options.jobSelector}} * 0`,
          '  )',
          indent(q.unlessBlind(t), '  '),
          ') == 1',
        ].join('\n'),
      ),
      summary: 'A surface cannot be reached or cannot serve.',
      description: `${surface} has answered with a cannot-reach-or-serve code for ${humanDuration(t.surfaceUnreachableForSeconds)}, confirmed by a second probe. Current code: ${currentCode}.`,
    },
    {
      name: 'SurfaceDown',
      severity: 'surface',
      firesWhen: `a surface is DOWN for ${humanDuration(t.surfaceDownForSeconds)}`,
      forSeconds: t.surfaceDownForSeconds,
      expr: q.perSurface(
        [
          "# Every replica that probes the surface must see it DOWN: one replica's network does not page.",
          'min by (env, surface, provider) (',
          `  surface_status{${options.jobSelector}, status="down"}`,
          indent(q.unlessBlind(t), '  '),
          ') == 1',
        ].join('\n'),
      ),
      summary: 'A surface is DOWN.',
      description: `${surface} has been DOWN for ${humanDuration(t.surfaceDownForSeconds)}. Current code: ${currentCode}.`,
    },
    {
      name: 'SurfaceDegraded',
      severity: 'ticket',
      firesWhen: `a surface is DEGRADED for ${humanDuration(t.surfaceDegradedForSeconds)} with a code that has no alert of its own (the code is a label)`,
      forSeconds: t.surfaceDegradedForSeconds,
      expr: q.perSurface(
        [
          `(\n${indent(q.currentCode(`code!~"${CODES_WITH_OWN_ALERT.join('|')}"`))}`,
          '  # Pages projects missing from the account have PagesProjectNotFound.',
          `  unless on (env, surface) surface_error_info{${options.jobSelector}, provider="cloudflare_pages", code="http_404"}`,
          '  # Cannot-reach-or-serve codes have SurfaceUnreachable.',
          `  unless on (env, surface, code) (${q.unreachable()})`,
          ...q.unlessRateBudgetLow(t),
          ...q.unlessCredentialCause().map((line) => `  ${line}`),
          ')',
          'and on (env, surface, provider)',
          `(min by (env, surface, provider) (surface_status{${options.jobSelector}, status="degraded"}) == 1)`,
        ].join('\n'),
        ['code'],
      ),
      summary: 'A surface is DEGRADED.',
      description: `${surface} has been DEGRADED for ${humanDuration(t.surfaceDegradedForSeconds)} with code {{ $labels.code }}.`,
    },
    {
      name: 'SurfaceCheckStale',
      severity: 'ticket',
      firesWhen: `a surface was last checked more than ${humanDuration(t.surfaceCheckStaleSeconds)} ago while the poller checks the others`,
      forSeconds: 0,
      expr: q.perSurface(
        [
          `(time() - max by (env, surface, provider) (surface_last_check_timestamp_seconds{${options.jobSelector}}) > ${t.surfaceCheckStaleSeconds})`,
          '# Only a surface the poller left behind: when the whole poller stalls every surface falls behind',
          '# together, this stays under the limit, and SurfacePollerHeartbeatStale is the alert.',
          'and on (env, surface) (',
          indent(q.latestProbeByEnv()),
          '  - on (env, shard) group_right ()',
          `  max by (env, shard, surface) (surface_last_check_timestamp_seconds{${options.jobSelector}})`,
          `  > ${t.surfaceCheckStaleSeconds}`,
          ')',
          '# A dead worker has SurfaceWorkerDead.',
          `unless on (env, surface) (max by (env, surface) (surface_worker_alive{${options.jobSelector}}) == 0)`,
        ].join('\n'),
      ),
      summary: 'A surface has not been checked recently.',
      description: `${surface} was last checked {{ $value | humanizeDuration }} ago (limit ${humanDuration(t.surfaceCheckStaleSeconds)}) while the poller checks the other surfaces; its tile is stale. Current code: ${currentCode}.`,
    },
    {
      name: 'SurfaceCredentialsMissing',
      severity: 'ticket',
      firesWhen: `a surface reports \`skipped_credentials\` for ${humanDuration(t.credentialsMissingForSeconds)}`,
      forSeconds: t.credentialsMissingForSeconds,
      expr: q.perSurface(
        `max by (env, surface, provider, variable) (surface_credential_missing{${options.jobSelector}})`,
        ['variable'],
      ),
      extraLabels: { code: 'skipped_credentials' },
      summary: 'A surface is not probed: a credential variable is missing.',
      description: `${surface} has reported skipped_credentials for ${humanDuration(t.credentialsMissingForSeconds)}: no request is sent until {{ $labels.variable }} is set (Access tokens as client_id:client_secret), then reload. \`surface-exporter list\` shows every unset variable.`,
    },
    {
      name: 'SurfaceAccessGateRejecting',
      severity: 'ticket',
      firesWhen: `Cloudflare Access stops a surface's probe (\`access_gate_redirect\` or \`access_denied\`) for ${humanDuration(t.accessGateRejectingForSeconds)}`,
      forSeconds: t.accessGateRejectingForSeconds,
      expr: q.perSurface(
        [
          q.anyReplicaCode('code=~"access_gate_redirect|access_denied"'),
          ...q.unlessCredentialCause(),
          '# A token the watch sees outside every Service Auth policy has AccessServiceTokenNotEnrolled.',
          `unless on (env, surface) (max by (env, surface) (surface_access_token_enrolled{${options.jobSelector}}) == 0)`,
        ].join('\n'),
        ['code'],
      ),
      summary: "Cloudflare Access is rejecting the probe's service token.",
      description: `${surface} has been stopped by Cloudflare Access ({{ $labels.code }}) for ${humanDuration(t.accessGateRejectingForSeconds)}: the service token is missing from a Service Auth policy of the application, was revoked, or the surface points at a gated URL.`,
    },
    {
      name: 'PagesDeployStuckBuilding',
      severity: 'ticket',
      firesWhen: `the newest Pages deployment has been building for more than ${humanDuration(t.deployBuildingSeconds)}`,
      forSeconds: 0,
      expr: q.perSurface(
        [
          `(time() - max by (env, surface, provider) (surface_deployment_started_timestamp_seconds{${options.jobSelector}}) > ${t.deployBuildingSeconds})`,
          `and on (env, surface) ${q.anyReplicaCode('code="deploy_building"')}`,
        ].join('\n'),
      ),
      extraLabels: { code: 'deploy_building' },
      summary: 'A Cloudflare Pages deployment has been building for too long.',
      description: `The newest deployment of ${surface} was created {{ $value | humanizeDuration }} ago and is still building (limit ${humanDuration(t.deployBuildingSeconds)}): cancel and retrigger it.`,
    },
    {
      name: 'PagesDeployFailed',
      severity: 'ticket',
      firesWhen: `the newest Pages deployment has failed for ${humanDuration(t.deployFailedForSeconds)}`,
      forSeconds: t.deployFailedForSeconds,
      expr: q.perSurface(q.anyReplicaCode('code="deploy_failure"'), ['code']),
      summary: 'A Cloudflare Pages deployment failed.',
      description: `The newest deployment of ${surface} has failed ({{ $labels.code }}) for ${humanDuration(t.deployFailedForSeconds)}; the previous deployment is still served. Read the build log, fix, and retry.`,
    },
    {
      name: 'PagesProjectNotFound',
      severity: 'ticket',
      firesWhen: `a Pages project in the registry is not in the account (\`http_404\`) for ${humanDuration(t.pagesProjectNotFoundForSeconds)}`,
      forSeconds: t.pagesProjectNotFoundForSeconds,
      expr: q.perSurface(q.anyReplicaCode('provider="cloudflare_pages", code="http_404"'), ['code']),
      summary: 'A Cloudflare Pages project in the registry does not exist.',
      description: `${surface} has answered {{ $labels.code }} (project not in the account) for ${humanDuration(t.pagesProjectNotFoundForSeconds)}: correct the project name or remove the registry entry.`,
    },
    {
      name: 'ProviderRateBudgetLow',
      severity: 'ticket',
      firesWhen: `less than ${t.rateBudgetLowFraction * 100} % of a provider's API budget is left for ${humanDuration(t.rateBudgetLowForSeconds)}`,
      forSeconds: t.rateBudgetLowForSeconds,
      expr: q.rateBudgetLow(t).join('\nor\n'),
      summary: 'A provider API rate budget is almost spent.',
      description: `Only {{ $value | humanizePercentage }} of the {{ $labels.provider }} API budget (${q.budgetTemplate()}) is left (limit ${t.rateBudgetLowFraction * 100} %); at zero every {{ $labels.provider }} surface turns rate_limited.`,
    },
    {
      name: 'SurfaceProbesCrashing',
      severity: 'ticket',
      firesWhen: `a surface's probe has thrown (\`probe_crashed\`) throughout ${humanDuration(t.probesCrashingForSeconds)}`,
      forSeconds: t.probesCrashingForSeconds,
      expr: q.perSurface(
        `sum by (env, surface, provider, code) (rate(surface_probe_errors_total{${options.jobSelector}, code="probe_crashed"}[${promDuration(t.probeCrashRateWindowSeconds)}])) > 0`,
        ['code'],
      ),
      summary: "A surface's probe keeps crashing.",
      description: `The probe of ${surface} has thrown ({{ $labels.code }}) throughout the last ${humanDuration(t.probesCrashingForSeconds)}. This is a bug: grep the logs for probe_crashed and file the stack.`,
    },
    {
      name: 'SurfaceExporterConfigReloadFailed',
      severity: 'ticket',
      firesWhen: `the last registry reload of a replica failed, for ${humanDuration(t.configReloadFailedForSeconds)}`,
      forSeconds: t.configReloadFailedForSeconds,
      expr: `surface_exporter_config_last_reload_successful{${options.jobSelector}} == 0`,
      summary: 'The exporter rejected its registry file.',
      description: `{{ $labels.instance }} has rejected its registry file for ${humanDuration(t.configReloadFailedForSeconds)} and still probes the previous registry; \`surface-exporter check-config FILE\` lists every error.`,
    },
    {
      name: 'SurfacePollerQueueBacklog',
      severity: 'ticket',
      firesWhen: `probes have waited for a concurrency slot at every evaluation for ${humanDuration(t.probeQueueBacklogForSeconds)}`,
      forSeconds: t.probeQueueBacklogForSeconds,
      expr: `surface_poller_probes_queued{${options.jobSelector}} > 0`,
      summary: 'Probes wait for a concurrency slot.',
      description: `{{ $labels.instance }} has had probes waiting for a slot for ${humanDuration(t.probeQueueBacklogForSeconds)} ({{ $value }} now): poller.concurrency is too small for the registry, so probes start up to one timeout late. Raise poller.concurrency or remove the surfaces that time out.`,
    },
    ...certificateAlerts(options, q),
    ...credentialAlerts(options, q),
    {
      name: 'SurfaceAccessGateMissing',
      // Always a page, whatever the surface: an open console is an exposure, not an outage.
      severity: 'page',
      firesWhen: `an \`expect_gate\` surface answers 2xx without a token (\`access_gate_missing\`) for ${humanDuration(t.accessGateMissingForSeconds)}`,
      forSeconds: t.accessGateMissingForSeconds,
      // Carries the surface's labels for routing, and is quiet in maintenance like every per-surface alert.
      expr: q.perSurface(q.anyReplicaCode('code="access_gate_missing"'), ['code']),
      summary: 'A URL that must stay behind Cloudflare Access is open to the internet.',
      description: `${surface} answered 2xx to a request without any service token ({{ $labels.code }}) for ${humanDuration(t.accessGateMissingForSeconds)}: its Cloudflare Access gate is gone. Restore the Access application for this hostname and path now.`,
    },
  ];
}

/**
 * Certificate expiry from the chain a surface's own HTTPS target presented. The earliest replica's
 * view counts: a replica still reaching an old edge certificate is the one that will fail first.
 */
function certificateAlerts(options: AlertOptions, q: Queries): AlertDefinition[] {
  const t = options.thresholds;
  const surface = '{{ $labels.env }}/{{ $labels.surface }} ({{ $labels.provider }})';
  const left = `(min by (env, surface, provider) (surface_tls_cert_expiry_timestamp_seconds{${options.jobSelector}}) - time())`;
  const ticketSeconds = t.certificateTicketDays * 86_400;
  const pageSeconds = t.certificatePageDays * 86_400;
  return [
    {
      name: 'SurfaceCertificateExpiringSoon',
      severity: 'ticket',
      firesWhen: `a certificate in a surface's chain expires in less than ${t.certificateTicketDays} days (and at least ${t.certificatePageDays}), for ${humanDuration(t.certificateExpiringForSeconds)}`,
      forSeconds: t.certificateExpiringForSeconds,
      expr: q.perSurface(
        `${left} < ${ticketSeconds}\n# Closer than that, SurfaceCertificateExpiring takes over.\nand ${left} >= ${pageSeconds}`,
      ),
      summary: `A surface’s TLS certificate expires within ${t.certificateTicketDays} days.`,
      description: `A certificate in the chain of ${surface} expires in {{ $value | humanizeDuration }}: automatic renewal has not happened. \`surface-exporter probe ENV/SURFACE\` shows the leaf and its issuer.`,
    },
    {
      name: 'SurfaceCertificateExpiring',
      severity: 'surface',
      firesWhen: `a certificate in a surface's chain expires in less than ${t.certificatePageDays} days, for ${humanDuration(t.certificateExpiringForSeconds)}`,
      forSeconds: t.certificateExpiringForSeconds,
      expr: q.perSurface(`${left} < ${pageSeconds}`),
      summary: 'A surface’s TLS certificate is about to expire.',
      description: `A certificate in the chain of ${surface} expires in {{ $value | humanizeDuration }}; after that every client refuses the connection. Renew it now (runbook: Heroku ACM, Cloudflare edge, private CA).`,
    },
  ];
}

/**
 * Alerts on the shards as a whole. Shards are told apart by the `shard` target label (the
 * ServiceMonitor copies the StatefulSet pod index into it; static configs set it per target), so a
 * shard whose every replica is down is still named after its last sample is gone.
 */
function shardAlerts(options: AlertOptions): AlertDefinition[] {
  const t = options.thresholds;
  const job = options.jobSelector;
  return [
    {
      name: 'SurfaceExporterShardsMissing',
      severity: 'page',
      firesWhen: 'some shard has no replica up (its surfaces are unwatched) while other shards answer',
      forSeconds: t.exporterDownForSeconds,
      expr: [
        '# Every replica of a shard fails its scrape.',
        `(max by (job, shard) (up{${job}}) == 0)`,
        '# When no replica of any shard is up, SurfaceExporterDown pages instead.',
        `unless on (job) (max by (job) (up{${job}}) == 0)`,
        'or',
        '# Shards with no target at all: the replicas were told of more shards than service discovery has.',
        `(max by (job) (surface_exporter_total_shards{${job}}) - count by (job) (count by (job, shard) (up{${job}}))) > 0`,
      ].join('\n'),
      summary: 'A shard of surface-exporter has no replica up.',
      description: `{{ with $labels.shard }}Shard {{ . }} of job {{ $labels.job }} has had no replica up for ${humanDuration(t.exporterDownForSeconds)}: the surfaces it owns are not watched and their alerts cannot fire.{{ else }}{{ $value }} shard(s) of job {{ $labels.job }} have no target in service discovery for ${humanDuration(t.exporterDownForSeconds)}, fewer than the replicas' total of shards: the surfaces they own are not watched.{{ end }}`,
    },
    {
      name: 'SurfaceExporterShardingMismatch',
      severity: 'ticket',
      firesWhen: `replicas disagree on the number of shards, or a target labelled shard K watches another shard, for ${humanDuration(t.shardingMismatchForSeconds)}`,
      forSeconds: t.shardingMismatchForSeconds,
      expr: [
        '# Two totals at once: some surfaces are owned twice and others by no one.',
        `count by (job) (count_values by (job) ("total_shards", surface_exporter_total_shards{${job}})) > 1`,
        'or',
        '# The target label says one shard, the process watches another (a wrong --pod or --shard).',
        `surface_exporter_shard_ordinal{${job}, shard!=""}`,
        `unless on (job, instance, shard) label_replace(surface_exporter_shard_ordinal{${job}}, "shard", "$1", "shard_ordinal", "(.+)")`,
      ].join('\n'),
      summary: 'surface-exporter replicas disagree on the sharding.',
      description: `{{ with $labels.instance }}{{ . }} is labelled shard {{ $labels.shard }} but watches shard {{ $labels.shard_ordinal }}{{ else }}The replicas of job {{ $labels.job }} report {{ $value }} different totals of shards{{ end }} (for ${humanDuration(t.shardingMismatchForSeconds)}): some surfaces are probed twice and others not at all. Give every replica the same --total-shards and its own ordinal.`,
    },
  ];
}

/** Issue 16's alerts: one per cause, per credential variable, not per surface. */
function credentialAlerts(options: AlertOptions, q: Queries): AlertDefinition[] {
  const t = options.thresholds;
  const job = options.jobSelector;
  const day = 86_400;
  const expiresIn = `(min by (variable, kind) (surface_credential_expiry_timestamp_seconds{${job}}) - time())`;
  const invalid = `(min by (variable, kind) (surface_credential_valid{${job}}) == 0)`;
  const usedBy = q.surfacesUsingTemplate();
  const renew = byKind({
    access_service_token:
      'refresh it (POST /accounts/{account_id}/access/service_tokens/{token_id}/refresh keeps the secret), or rotate it and store the new client_id:client_secret',
    cloudflare_api_token:
      'roll it or create one with a later expiry in the Cloudflare dashboard (My Profile or Manage Account, API Tokens) and store it in {{ $labels.variable }}',
    heroku_api_key:
      'renew its OAuth authorization (heroku authorizations:rotate ID, or heroku authorizations:create for one that does not expire) and store the new token in {{ $labels.variable }}',
    other: 'issue a new one and store it in {{ $labels.variable }}',
  });
  const replace = byKind({
    access_service_token:
      're-enable it, or create or rotate the service token, enroll it in the Service Auth policy and store client_id:client_secret in {{ $labels.variable }}',
    cloudflare_api_token:
      're-enable or re-issue the API token in the Cloudflare dashboard (My Profile or Manage Account, API Tokens) and store it in {{ $labels.variable }}',
    heroku_api_key:
      'create a new authorization (heroku authorizations:create -d surface-exporter) and store its token in {{ $labels.variable }}',
    other: 'issue a new one and store it in {{ $labels.variable }}',
  });
  return [
    {
      name: 'CredentialExpiringSoon',
      severity: 'ticket',
      firesWhen: `a credential a surface uses expires in less than ${t.credentialExpiringSoonDays} days, for ${humanDuration(t.credentialExpiringForSeconds)}`,
      forSeconds: t.credentialExpiringForSeconds,
      expr: [
        `${expiresIn} < ${t.credentialExpiringSoonDays * day}`,
        `# Inside ${t.credentialExpiringDays} days CredentialExpiring pages instead.`,
        `>= ${t.credentialExpiringDays * day}`,
      ].join('\n'),
      summary: 'A credential the probes use expires within a month.',
      description: `The credential in {{ $labels.variable }} ({{ $labels.kind }}) expires in {{ $value | humanizeDuration }} (limit ${t.credentialExpiringSoonDays} days). Fix: ${renew}. Used by: ${usedBy}.`,
    },
    {
      name: 'CredentialExpiring',
      severity: 'page',
      firesWhen: `a credential a surface uses expires in less than ${t.credentialExpiringDays} days, for ${humanDuration(t.credentialExpiringForSeconds)} (the runbook's escalation)`,
      forSeconds: t.credentialExpiringForSeconds,
      expr: [
        `${expiresIn} < ${t.credentialExpiringDays * day}`,
        '# Already expired: CredentialInvalid.',
        `unless on (variable) ${invalid}`,
      ].join('\n'),
      summary: 'A credential the probes use expires within a week.',
      description: `The credential in {{ $labels.variable }} ({{ $labels.kind }}) expires in {{ $value | humanizeDuration }} (limit ${t.credentialExpiringDays} days); every surface using it then fails. Fix: ${renew}. Used by: ${usedBy}.`,
    },
    {
      name: 'CredentialInvalid',
      severity: 'page',
      firesWhen: `a credential a surface uses is revoked, deleted, disabled or expired, for ${humanDuration(t.credentialInvalidForSeconds)} (the surfaces' own auth alerts stay quiet)`,
      forSeconds: t.credentialInvalidForSeconds,
      expr: [
        invalid,
        '# Only while a surface uses it: the management token alone blinds the watch, not a probe.',
        `and on (variable) (count by (variable) (surface_credential_info{${job}}))`,
      ].join('\n'),
      summary: 'A credential the probes use is no longer valid.',
      description: `The credential in {{ $labels.variable }} ({{ $labels.kind }}) is revoked, deleted, disabled or expired (for ${humanDuration(t.credentialInvalidForSeconds)}): every surface using it fails (${usedBy}); their own auth alerts stay quiet. Fix: ${replace}.`,
    },
    {
      name: 'AccessServiceTokenNotEnrolled',
      severity: 'ticket',
      firesWhen: `a service token is in no Service Auth (non_identity) policy of the application covering a surface that uses it, for ${humanDuration(t.accessTokenNotEnrolledForSeconds)}`,
      forSeconds: t.accessTokenNotEnrolledForSeconds,
      expr: [
        `count by (variable) (max by (variable, env, surface) (surface_access_token_enrolled{${job}}) == 0)`,
        '# A token missing from the account is CredentialInvalid.',
        `unless on (variable) ${invalid}`,
      ].join('\n'),
      summary: 'An Access service token is not enrolled in a Service Auth policy.',
      description: `The service token in {{ $labels.variable }} is in no Service Auth (non_identity) policy of the Access application covering {{ $value }} surface(s) (${q.surfacesNotEnrolledTemplate()}): Access will answer them with a 302 to its login. Add the token to a Service Auth policy of the application in the Cloudflare dashboard.`,
    },
  ];
}

/**
 * A Go template choosing the fix by the credential's `kind` label: a Pages API token or a Heroku key
 * is not renewed the way an Access service token is. The kinds are those the exporter declares.
 */
function byKind(fixes: {
  access_service_token: string;
  cloudflare_api_token: string;
  heroku_api_key: string;
  other: string;
}): string {
  const { other, ...known } = fixes;
  const branches = Object.entries(known).map(
    ([kind, fix], index) => `{{ ${index === 0 ? 'if' : 'else if'} eq $labels.kind "${kind}" }}${fix}`,
  );
  return `${branches.join('')}{{ else }}${other}{{ end }}`;
}

/** The Prometheus rule file, as a data structure. */
export function buildRuleFile(options: AlertOptions = DEFAULT_ALERT_OPTIONS): PrometheusRuleFile {
  const rules = alertDefinitions(options).map(
    (definition): PrometheusAlertingRule => ({
      alert: definition.name,
      expr: definition.expr,
      // Right after `expr`, where people look for it; absent when the threshold is itself an age.
      ...(definition.forSeconds > 0 ? { for: promDuration(definition.forSeconds) } : {}),
      // A rule label overrides the expression's: a `surface` severity must come from the expression alone.
      ...ruleLabels(definition),
      annotations: {
        summary: definition.summary,
        description: definition.description,
        runbook_url: runbookUrl(options.runbookBaseUrl, definition.name),
      },
    }),
  );
  return { groups: [{ name: 'surface-exporter', rules }] };
}

function ruleLabels(definition: AlertDefinition): { labels?: Record<string, string> } {
  const labels = {
    ...(definition.severity === 'surface' ? {} : { severity: definition.severity }),
    ...definition.extraLabels,
  };
  return Object.keys(labels).length > 0 ? { labels } : {};
}

export function renderRuleFile(options: AlertOptions = DEFAULT_ALERT_OPTIONS): string {
  return `${RULES_HEADER}${stringify(buildRuleFile(options), { lineWidth: 0, blockQuote: 'literal' })}`;
}

export const RULES_HEADER =
  '# Generated by `npm run generate` from tools/observability/alerts.ts. Do not edit: change the source and regenerate.\n';

export function runbookUrl(baseUrl: string, alertName: string): string {
  return `${baseUrl}#${alertName.toLowerCase()}`;
}

/**
 * The same rules with every duration multiplied by `factor` (fractions and budgets unchanged), so
 * an end-to-end test sees each alert fire in seconds.
 */
export function scaleThresholds(thresholds: AlertThresholds, factor: number): AlertThresholds {
  const scaled = { ...thresholds };
  for (const key of Object.keys(scaled) as Array<keyof AlertThresholds>) {
    if (key.endsWith('Seconds')) scaled[key] = Math.max(1, Math.round(thresholds[key] * factor));
  }
  return scaled;
}

/** The alerts table of the README, in Markdown. */
export function renderAlertsTable(options: AlertOptions = DEFAULT_ALERT_OPTIONS): string {
  const rows = alertDefinitions(options).map((definition) => {
    const link = `[runbook](docs/runbook.md#${definition.name.toLowerCase()})`;
    const severity =
      definition.severity === 'surface' ? "the surface's (`page` by default)" : definition.severity;
    return `| \`${definition.name}\` | ${severity} | ${definition.firesWhen} | ${link} |`;
  });
  return ['| Alert | Severity | Fires when | Runbook |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** PromQL fragments shared by several rules. */
class Queries {
  constructor(private readonly job: string) {}

  /**
   * Seconds since the freshest replica serving an env on a shard completed a probe. Before a
   * replica's first probe its process start stands in for the heartbeat, as in /health, so a restart
   * does not page. Per shard, so a stalled shard pages while the others are fresh; replicas of one
   * shard share the `shard` target label and make one series.
   */
  heartbeatAge(): string {
    return [
      'time() - max by (env, shard) (',
      `  max by (job, instance) ({__name__=~"surface_poller_last_poll_timestamp_seconds|process_start_time_seconds", ${this.job}})`,
      '  # One series per environment the replica serves.',
      `  + on (job, instance) group_right () (0 * surface_poller_surfaces{${this.job}})`,
      ')',
    ].join('\n');
  }

  /** When the freshest replica serving each env on each shard last completed a probe. */
  latestProbeByEnv(): string {
    return `max by (env, shard) (surface_poller_last_poll_timestamp_seconds{${this.job}} + on (job, instance) group_right () (0 * surface_poller_surfaces{${this.job}}))`;
  }

  /** A stalled poller freezes every surface: the heartbeat alert speaks for all of them. */
  unlessHeartbeatStale(t: AlertThresholds): string {
    return `# A stalled poller has SurfacePollerHeartbeatStale.\nunless on (env) (\n${indent(this.heartbeatAge())}\n  > ${t.heartbeatStaleSeconds}\n)`;
  }

  /**
   * The current error code of each surface, as the replica that checked it last sees it, so that
   * two replicas seeing different codes still make one alert.
   */
  currentCode(codeMatcher: string): string {
    return [
      'max by (env, surface, provider, code) (',
      `  surface_error_info{${this.job}, ${codeMatcher}}`,
      '  and on (job, instance, env, surface)',
      `  (surface_last_check_timestamp_seconds{${this.job}} == on (env, surface) group_left () max by (env, surface) (surface_last_check_timestamp_seconds{${this.job}}))`,
      ')',
    ].join('\n');
  }

  /**
   * A per-surface condition (one series per env, surface, provider), with the surface's severity and
   * labels joined from surface_info so Alertmanager can route by team, and nothing for a surface in
   * maintenance. `carry`: labels of the condition kept on the alert (the code, the variable).
   */
  perSurface(condition: string, carry: string[] = []): string {
    return [
      "# The surface's severity and registry labels, once whatever the number of replicas.",
      `max without (job, instance, shard) (surface_info{${this.job}})`,
      `* on (env, surface, provider) group_left (${carry.join(', ')}) (`,
      indent(condition),
      ')',
      '# No per-surface alert for a surface in a maintenance window or in its provider’s maintenance mode.',
      `unless on (env, surface) (max by (env, surface) (surface_maintenance{${this.job}}) == 1)`,
    ].join('\n');
  }

  /** The series of surface_error_info whose code is in the cannot-reach-or-serve family. */
  unreachable(onlyNetwork = false): string {
    const members = UNREACHABLE_CODES.filter((member) => !onlyNetwork || member.network);
    const byProvider = new Map<string, string[]>();
    for (const member of members) {
      const key = member.provider ?? '';
      byProvider.set(key, [...(byProvider.get(key) ?? []), member.pattern]);
    }
    return [...byProvider]
      .map(([provider, patterns]) => {
        const providerMatcher = provider ? `, provider="${provider}"` : '';
        return `surface_error_info{${this.job}${providerMatcher}, code=~"${patterns.join('|')}"}`;
      })
      .join(' or ');
  }

  /**
   * Replicas (job, instance) that see most of their surfaces fail below HTTP, the value being that
   * share. Surfaces in maintenance do not count as failing: a planned outage is not blindness.
   */
  blindReplicas(t: AlertThresholds): string {
    const failing = `(${this.unreachable(true)}) unless on (job, instance, env, surface) (surface_maintenance{${this.job}} == 1)`;
    return [
      `count by (job, instance) (${failing})`,
      `/ count by (job, instance) (surface_info{${this.job}})`,
      `>= ${t.blindFraction}`,
      `and count by (job, instance) (${failing}) >= ${t.blindMinSurfaces}`,
    ].join('\n');
  }

  /** Drops a blind replica's series: SurfaceExporterBlind is the one page for that cause. */
  unlessBlind(t: AlertThresholds): string {
    return `# A blind replica has SurfaceExporterBlind.\nunless on (job, instance) (\n${indent(this.blindReplicas(t))}\n)`;
  }

  /** Surfaces where any replica sees the code: these codes come from configuration a replica can lack alone. */
  anyReplicaCode(matchers: string): string {
    return `max by (env, surface, provider, code) (surface_error_info{${this.job}, ${matchers}})`;
  }

  /**
   * The share of a provider's budget left: `min` is the replica that spent most, divided by the
   * quota the providers report (no quota reported, no share: the rule stays quiet rather than guess).
   */
  budgetShare(provider: string, by = 'by (provider) '): string {
    return `min ${by}(surface_provider_rate_limit_remaining{${this.job}, provider="${provider}"}) / on (provider) max by (provider) (surface_provider_rate_limit_quota{${this.job}, provider="${provider}"})`;
  }

  /** Each provider's budget share, where it is below the threshold. */
  rateBudgetLow(t: AlertThresholds): string[] {
    return Object.keys(PROVIDER_RATE_BUDGETS).map(
      (provider) => `${this.budgetShare(provider)} < ${t.rateBudgetLowFraction}`,
    );
  }

  /** rate_limited surfaces of a provider whose budget is low: ProviderRateBudgetLow already names the cause. */
  unlessRateBudgetLow(t: AlertThresholds): string[] {
    const lines = ['  # 429s while the budget is low have ProviderRateBudgetLow.'];
    for (const [provider, budget] of Object.entries(PROVIDER_RATE_BUDGETS)) {
      lines.push(
        `  unless on (env, surface) (surface_error_info{${this.job}, provider="${budget.surfaceProvider}", code="rate_limited"} and on () (${this.budgetShare(provider)} < ${t.rateBudgetLowFraction}))`,
      );
    }
    return lines;
  }

  /** Go template for annotations: "1,200 calls per 5 minutes", the quota looked up at evaluation time. */
  budgetTemplate(): string {
    const quota = `{{ with printf \`max(surface_provider_rate_limit_quota{${this.job}, provider=%q})\` $labels.provider | query }}{{ . | first | value | printf "%.0f" }}{{ end }}`;
    const branches = Object.entries(PROVIDER_RATE_BUDGETS).map(
      ([provider, budget], index) =>
        `{{ ${index === 0 ? 'if' : 'else if'} eq $labels.provider "${provider}" }} per ${budget.per.replace(/^an /, '')}`,
    );
    return `${quota} calls${branches.join('')}{{ end }}`;
  }

  /**
   * A surface's auth codes while the watch sees its credential invalid: CredentialInvalid pages for
   * the cause, once. Only the auth codes: a crashed dyno or a 502 behind a dead token still alerts.
   */
  unlessCredentialCause(): string[] {
    return [
      '# An auth code on a surface whose credential the watch sees revoked, disabled or expired has CredentialInvalid.',
      `unless on (env, surface, code) (surface_error_info{${this.job}, code=~"${CREDENTIAL_AUTH_CODES.join('|')}"} and on (job, instance, env, surface) (surface_credential_info{${this.job}} and on (job, instance, variable) (surface_credential_valid{${this.job}} == 0)))`,
    ];
  }

  /** Go template: the surfaces (env/surface) that use $labels.variable. */
  surfacesUsingTemplate(): string {
    const query = `max by (env, surface) (surface_credential_info{${this.job}, variable=%q})`;
    return `{{ with printf \`${query}\` $labels.variable | query | sortByLabel "surface" | sortByLabel "env" }}{{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s.Labels.env }}/{{ $s.Labels.surface }}{{ end }}{{ else }}no surface{{ end }}`;
  }

  /** Go template: the surfaces whose application does not enroll the token in $labels.variable. */
  surfacesNotEnrolledTemplate(): string {
    const query = `max by (env, surface) (surface_access_token_enrolled{${this.job}, variable=%q}) == 0`;
    return `{{ with printf \`${query}\` $labels.variable | query | sortByLabel "surface" | sortByLabel "env" }}{{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s.Labels.env }}/{{ $s.Labels.surface }}{{ end }}{{ end }}`;
  }

  /** Go template for annotations: the surface's current code(s), looked up at evaluation time. */
  currentCodeTemplate(): string {
    const query = `max by (code) (surface_error_info{${this.job}, env=%q, surface=%q})`;
    return `{{ with printf \`${query}\` $labels.env $labels.surface | query }}{{ range $i, $s := sortByLabel "code" . }}{{ if $i }}, {{ end }}{{ $s.Labels.code }}{{ end }}{{ else }}none{{ end }}`;
  }
}

/** The variable a skipped_credentials surface needs, from its provider's defaults. */

function indent(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((line) => by + line)
    .join('\n');
}

/** A Prometheus duration: 600 → `10m`, 90 → `90s`. */
export function promDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** 120 → "2 minutes", 90 → "90 seconds". */
export function humanDuration(seconds: number): string {
  const [value, unit] = seconds % 60 === 0 ? [seconds / 60, 'minute'] : [seconds, 'second'];
  return `${value} ${unit}${value === 1 ? '' : 's'}`;
}

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { type RunningExporter, startExporter } from '../../src/app/exporter.js';
import { parseRegistry } from '../../src/config/load.js';
import { VERSION } from '../../src/core/version.js';
import { type HerokuFake, startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import { startTracing, type Tracing } from '../../src/tracing/index.js';
import { FORCE_POLL_SPAN, PROBE_SPAN } from '../../src/tracing/spans.js';
import { HttpClient } from '../../src/transport/client.js';
import { captureLogs, closedPort, waitFor } from '../helpers/support.js';
import { PROMETHEUS_BINARY, startPrometheus, startTargets, type Targets } from './helpers.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './otlpReceiver.js';

const SPAN_KIND_INTERNAL = 1;
const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;

/** One surface per state a probe tells apart, with what its spans must say. */
interface Expectation {
  status: 'up' | 'degraded';
  errorType?: string;
  /** The client span's url.full, with `TARGET` standing for the target server. */
  urlFull: string;
  responseStatus?: number;
  clientErrorType?: string;
  clientEvent?: string;
}

const EXPECTED: Record<string, Expectation> = {
  healthy: { status: 'up', urlFull: 'TARGET/ok?token=***', responseStatus: 200 },
  'bad-gateway': {
    status: 'degraded',
    errorType: 'health_http_502',
    urlFull: 'TARGET/bad',
    responseStatus: 502,
    clientErrorType: '502',
  },
  refused: {
    status: 'degraded',
    errorType: 'health_no_response',
    urlFull: 'REFUSED/health',
    clientErrorType: 'refused',
    clientEvent: 'connection_refused',
  },
  hanging: {
    status: 'degraded',
    errorType: 'probe_timeout',
    urlFull: 'TARGET/hang',
    clientErrorType: 'timeout',
    clientEvent: 'timeout',
  },
  gated: {
    status: 'degraded',
    errorType: 'access_gate_redirect',
    urlFull: 'TARGET/gate',
    responseStatus: 302,
  },
};
const SURFACES = Object.keys(EXPECTED);
const HEROKU_SURFACE = 'heroku-web';
const HEROKU_APP = 'demo-app';
const ALL_SURFACES = [...SURFACES, HEROKU_SURFACE];

function registryText(targets: string, refused: string, marker: string): string {
  return `
poller:
  interval_seconds: 1
  timeout_seconds: 0.5
  force_poll_deadline_seconds: 5
environments:
  test:
    - name: healthy
      provider: http
      url: ${targets}/ok?token=query-${marker}
    - name: bad-gateway
      provider: http
      url: ${targets}/bad
    - name: refused
      provider: http
      url: ${refused}/health
    - name: hanging
      provider: http
      url: ${targets}/hang
    - name: gated
      provider: http
      url: ${targets}/gate
      access_token_env: GATED_ACCESS_TOKEN
    - name: ${HEROKU_SURFACE}
      provider: heroku_app
      app: ${HEROKU_APP}
`;
}

describe('traces of probes', () => {
  // A unique marker in every credential, searched for in the exported bytes.
  const marker = `marker${randomBytes(8).toString('hex')}`;
  const env: Record<string, string> = {
    GATED_ACCESS_TOKEN: `id-${marker}:secret-${marker}`,
    FORCE_POLL_TOKEN: `operator-${marker}`,
    HEROKU_API_KEY: `heroku-${marker}`,
  };
  let targets: Targets;
  let heroku: HerokuFake;
  let receiver: OtlpReceiver;
  let sink: ReturnType<typeof captureLogs>;
  let tracing: Tracing;
  let http: HttpClient;
  let refusedUrl: string;
  let registry: ReturnType<typeof parseRegistry>;
  const exporters: RunningExporter[] = [];

  const probeSpans = (surface: string) =>
    receiver.spans.filter((span) => span.name === PROBE_SPAN && span.attributes['surface.name'] === surface);
  const childrenOf = (parent: ReceivedSpan) =>
    receiver.spans.filter((span) => span.parentSpanId === parent.spanId);
  /** The newest probe span of a surface whose HTTP child has arrived too (it may end after its parent). */
  const completeProbe = (surface: string, isWanted: (span: ReceivedSpan) => boolean) =>
    probeSpans(surface).findLast((span) => isWanted(span) && childrenOf(span).length > 0);
  const expectedUrl = (pattern: string) =>
    pattern.replace('TARGET', targets.url).replace('REFUSED', refusedUrl);

  before(async () => {
    targets = await startTargets();
    heroku = await startHerokuApi({ apiKeys: [env.HEROKU_API_KEY as string] });
    heroku.addApp({ name: HEROKU_APP });
    env.HEROKU_API_URL = heroku.url;
    receiver = await startOtlpReceiver('accept');
    refusedUrl = `http://127.0.0.1:${await closedPort()}`;
    sink = captureLogs();
    tracing = startTracing({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' },
      log: sink.log,
      version: VERSION,
    });
    http = new HttpClient({ interceptor: tracing.interceptor });
    registry = parseRegistry(registryText(targets.url, refusedUrl, marker), 'surfaces.yaml');
    exporters.push(
      await startExporter({
        registry,
        host: '127.0.0.1',
        port: 0,
        pollerEnabled: true,
        env,
        log: sink.log,
        tracer: tracing.tracer,
        http,
        defaultMetrics: false,
      }),
    );
    await waitFor(
      () =>
        ALL_SURFACES.every((surface) => completeProbe(surface, (span) => span.parentSpanId === undefined)),
      { what: 'a probe span with its HTTP child for every surface' },
    );
  });

  after(async () => {
    for (const exporter of exporters) await exporter.stop();
    await tracing?.shutdown();
    await http?.close();
    await receiver?.close();
    await targets?.close();
    await heroku?.close();
  });

  it('makes each scheduled probe a root span with its HTTP call as a client child', () => {
    for (const surface of SURFACES) {
      const probe = completeProbe(surface, (span) => span.parentSpanId === undefined);
      assert.ok(probe, surface);
      assert.equal(probe.kind, SPAN_KIND_INTERNAL);
      assert.deepEqual(
        {
          env: probe.attributes['surface.env'],
          name: probe.attributes['surface.name'],
          provider: probe.attributes['surface.provider'],
        },
        { env: 'test', name: surface, provider: 'http' },
      );
      const children = childrenOf(probe);
      assert.equal(children.length, 1, `${surface}: one HTTP call`);
      const [client] = children as [ReceivedSpan];
      assert.equal(client.traceId, probe.traceId);
      assert.equal(client.kind, SPAN_KIND_CLIENT);
      assert.equal(client.name, 'GET');
      const target = new URL(expectedUrl(EXPECTED[surface]?.urlFull ?? ''));
      assert.deepEqual(
        {
          method: client.attributes['http.request.method'],
          url: client.attributes['url.full'],
          address: client.attributes['server.address'],
          port: client.attributes['server.port'],
        },
        {
          method: 'GET',
          url: expectedUrl(EXPECTED[surface]?.urlFull ?? ''),
          address: '127.0.0.1',
          port: Number(target.port),
        },
        surface,
      );
    }
  });

  it('marks every probe that is not UP as an ERROR with its code as error.type', () => {
    for (const [surface, expected] of Object.entries(EXPECTED)) {
      const probe = completeProbe(surface, (span) => span.parentSpanId === undefined);
      assert.ok(probe, surface);
      assert.equal(probe.attributes['surface.status'], expected.status, surface);
      assert.equal(probe.attributes['error.type'], expected.errorType, surface);
      if (expected.errorType === undefined) assert.equal(probe.status.code, STATUS_UNSET, surface);
      else assert.deepEqual(probe.status, { code: STATUS_ERROR, message: expected.errorType }, surface);

      const [client] = childrenOf(probe) as [ReceivedSpan];
      assert.equal(client.attributes['http.response.status_code'], expected.responseStatus, surface);
      assert.equal(client.attributes['error.type'], expected.clientErrorType, surface);
      assert.equal(
        client.status.code,
        expected.clientErrorType === undefined ? STATUS_UNSET : STATUS_ERROR,
        `${surface}: client span status`,
      );
      assert.deepEqual(
        client.events.map((event) => event.name),
        expected.clientEvent === undefined ? [] : [expected.clientEvent],
        `${surface}: client span events`,
      );
    }
  });

  it('traces every call of a Heroku probe: app, formation, dynos and the health check', () => {
    // Metadata is cached after the first probe, so the first one is the probe that makes every call.
    const [probe] = probeSpans(HEROKU_SURFACE).filter((span) => span.parentSpanId === undefined);
    assert.ok(probe);
    assert.equal(probe.attributes['surface.provider'], 'heroku_app');
    assert.equal(probe.attributes['surface.status'], 'up');
    const calls = childrenOf(probe)
      .map((client) => ({
        url: String(client.attributes['url.full']),
        status: client.attributes['http.response.status_code'],
        sameTrace: client.traceId === probe.traceId,
      }))
      .sort((a, b) => a.url.localeCompare(b.url));
    const api = `${heroku.url}/apps/${HEROKU_APP}`;
    assert.deepEqual(
      calls.filter((call) => call.url.startsWith(heroku.url)),
      [`${api}`, `${api}/dynos`, `${api}/formation`].map((url) => ({ url, status: 200, sameTrace: true })),
    );
    const health = calls.filter((call) => call.url.startsWith(heroku.router.url));
    assert.equal(health.length, 1);
    assert.match(health[0]?.url ?? '', /\/health$/);
    assert.equal(health[0]?.status, 200);
    assert.equal(health[0]?.sameTrace, true);
  });

  it('describes the exporter itself in the resource', () => {
    const [span] = receiver.spans as [ReceivedSpan];
    assert.equal(span.resource['service.name'], 'surface-exporter');
    assert.equal(span.resource['service.version'], VERSION);
    assert.equal(span.resource['service.instance.id'], hostname());
  });

  it('makes the probes of a force-poll children of one surface.force_poll span', async () => {
    // A second exporter without a scheduler: none of its probes can be in flight before the force-poll.
    const exporter = await startExporter({
      registry,
      host: '127.0.0.1',
      port: 0,
      pollerEnabled: false,
      env,
      log: sink.log,
      tracer: tracing.tracer,
      http,
      defaultMetrics: false,
    });
    exporters.push(exporter);
    const response = await fetch(`${exporter.url}/api/force-poll`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.FORCE_POLL_TOKEN}` },
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { polled: number }).polled, ALL_SURFACES.length);

    const forcePoll = await waitFor(() => receiver.spans.find((span) => span.name === FORCE_POLL_SPAN), {
      what: 'the force-poll span',
    });
    assert.equal(forcePoll.parentSpanId, undefined);
    assert.equal(forcePoll.kind, SPAN_KIND_INTERNAL);
    const probes = await waitFor(
      () => {
        const found = ALL_SURFACES.map((surface) =>
          completeProbe(surface, (span) => span.parentSpanId === forcePoll.spanId),
        );
        return found.every(Boolean) && (found as ReceivedSpan[]);
      },
      { what: 'every force-polled probe with its HTTP child' },
    );
    for (const probe of probes) {
      assert.equal(probe.traceId, forcePoll.traceId);
      for (const client of childrenOf(probe)) assert.equal(client.traceId, forcePoll.traceId);
    }
  });

  it('links latency to traces: OpenMetrics exemplars carry trace ids the collector received', async () => {
    const [scheduled] = exporters as [RunningExporter];
    const response = await fetch(`${scheduled.url}/metrics`, {
      headers: { accept: 'application/openmetrics-text; version=1.0.0' },
    });
    assert.match(response.headers.get('content-type') ?? '', /^application\/openmetrics-text/);
    const exemplars = [
      ...(await response.text()).matchAll(
        /^surface_probe_duration_seconds_bucket\{[^}]*surface="([^"]+)"[^}]*\} \S+ # \{trace_id="([0-9a-f]{32})"\}/gm,
      ),
    ].map(([, surface, traceId]) => ({ surface: surface as string, traceId: traceId as string }));
    assert.deepEqual(
      [...new Set(exemplars.map((exemplar) => exemplar.surface))].sort(),
      [...ALL_SURFACES].sort(),
      'every surface has exemplars',
    );
    for (const { surface, traceId } of exemplars) {
      await waitFor(() => probeSpans(surface).some((span) => span.traceId === traceId), {
        what: `the probe span of exemplar ${traceId} (${surface})`,
      });
    }

    const classic = await fetch(`${scheduled.url}/metrics`, { headers: { accept: 'text/plain' } });
    assert.match(classic.headers.get('content-type') ?? '', /^text\/plain/);
    assert.doesNotMatch(await classic.text(), /trace_id/);
  });

  it('lets a real Prometheus with exemplar storage return those trace ids', {
    timeout: 40_000,
  }, async (t) => {
    if (!existsSync(PROMETHEUS_BINARY)) {
      const message = `${PROMETHEUS_BINARY} not found: apt-get install -y prometheus prometheus-alertmanager`;
      if (process.env.REQUIRE_STACK === '1') assert.fail(message);
      t.skip(message);
      return;
    }
    const [scheduled] = exporters as [RunningExporter];
    const prometheus = await startPrometheus(new URL(scheduled.url).host);
    try {
      const receivedProbeTraces = () =>
        new Set(receiver.spans.filter((span) => span.name === PROBE_SPAN).map((span) => span.traceId));
      const stored = await waitFor(
        async () => {
          const now = Date.now() / 1000;
          const query = new URLSearchParams({
            query: 'surface_probe_duration_seconds_bucket{env="test"}',
            start: String(now - 300),
            end: String(now + 60),
          });
          const answer = (await (
            await fetch(`${prometheus.url}/api/v1/query_exemplars?${query}`)
          ).json()) as {
            status: string;
            data?: { seriesLabels: Record<string, string>; exemplars: { labels: { trace_id?: string } }[] }[];
          };
          const received = receivedProbeTraces();
          const matched = (answer.data ?? []).flatMap((series) =>
            series.exemplars
              .map((exemplar) => exemplar.labels.trace_id)
              .filter((traceId): traceId is string => traceId !== undefined && received.has(traceId))
              .map((traceId) => ({ surface: series.seriesLabels.surface, traceId })),
          );
          const surfaces = new Set(matched.map((entry) => entry.surface));
          return SURFACES.every((surface) => surfaces.has(surface)) && matched;
        },
        { timeoutMs: 30_000, what: 'exemplars in Prometheus that match received probe traces' },
      );
      assert.ok(stored.length >= SURFACES.length);
    } finally {
      await prometheus.stop();
    }
  });

  it('does not trace its own /metrics, /health and API traffic, nor its OTLP exports', async () => {
    const [scheduled, unscheduled] = exporters as [RunningExporter, RunningExporter];
    for (const path of ['/metrics', '/health', '/', '/nothing-here']) {
      await (await fetch(`${scheduled.url}${path}`)).arrayBuffer();
    }
    // Spans are exported in the order they end: once this force-poll arrives, anything the requests
    // above had produced would have arrived too.
    const before = receiver.spans.filter((span) => span.name === FORCE_POLL_SPAN).length;
    const response = await fetch(`${unscheduled.url}/api/force-poll?surface=healthy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.FORCE_POLL_TOKEN}` },
    });
    assert.equal(response.status, 200);
    await waitFor(() => receiver.spans.filter((span) => span.name === FORCE_POLL_SPAN).length > before, {
      what: 'the second force-poll span',
    });
    for (const span of receiver.spans) {
      assert.notEqual(span.kind, SPAN_KIND_SERVER, span.name);
      assert.ok([PROBE_SPAN, FORCE_POLL_SPAN, 'GET'].includes(span.name), span.name);
      if (span.kind === SPAN_KIND_CLIENT) {
        const url = String(span.attributes['url.full']);
        const probed = [targets.url, refusedUrl, heroku.url, heroku.router.url];
        assert.ok(
          probed.some((origin) => url.startsWith(origin)),
          url,
        );
      }
    }
  });

  it('never puts a credential in what it exports', () => {
    // The secret really was sent, so its absence below means something.
    assert.equal(targets.seenHeaders.get('/gate')?.['cf-access-client-secret'], `secret-${marker}`);
    assert.ok(heroku.callsUnder('/apps/') > 0, 'the Heroku API key was used');
    assert.ok(receiver.rawBodies.length > 0);
    const exported = Buffer.concat(receiver.rawBodies);
    assert.equal(exported.indexOf(marker), -1, 'a credential marker reached the collector');
    const tracingLogs = sink.capture.lines().filter((line) => String(line.event).startsWith('trac'));
    assert.ok(tracingLogs.length > 0);
    assert.doesNotMatch(JSON.stringify(tracingLogs), new RegExp(marker));
  });
});

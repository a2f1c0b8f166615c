import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProbeOutcome } from '../../src/core/result.js';
import type { SurfaceLabels } from '../../src/core/surface.js';
import { ExporterMetrics } from '../../src/metrics/metrics.js';
import { PHASE_FAMILY, SurfaceSeries } from '../../src/metrics/surfaceSeries.js';
import { PROVIDER_FAMILIES } from '../../src/providers/index.js';

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

/** One change to the metrics, applied alike to the cached and the from-scratch renderer. */
type Step = (metrics: ExporterMetrics, labels: SurfaceLabels) => void;

const phases = (processing: number): ProbeOutcome['phases'] => ({
  resolve: 0,
  connect: 0,
  tls: 0,
  processing,
  transfer: 0.0005,
});

const probe = (outcome: Partial<ProbeOutcome>): ProbeOutcome => ({
  status: 'up',
  code: null,
  detail: 'ok',
  checkedAt: 1_700_000_000_000,
  durationSeconds: 0.02,
  ...outcome,
});

const traceId = (n: number) => n.toString(16).padStart(32, '0');

const STEPS: Array<[string, Step]> = [
  [
    'routing and worker published',
    (m, l) => {
      m.setRouting(l, { severity: 'page', labels: {} });
      m.setWorkerAlive(l, true);
    },
  ],
  ['maintenance published', (m, l) => m.setMaintenance(l, false)],
  [
    'an UP probe with phase timings and an exemplar',
    (m, l) => m.recordProbe(l, probe({ phases: phases(0.004), traceId: traceId(1) })),
  ],
  [
    'another UP probe, later and slower, in another bucket',
    (m, l) =>
      m.recordProbe(
        l,
        probe({
          checkedAt: 1_700_000_030_000,
          durationSeconds: 0.3,
          phases: phases(0.2),
          traceId: traceId(2),
        }),
      ),
  ],
  [
    'a failure held for confirmation',
    (m, l) =>
      m.recordUnconfirmedProbe(
        l,
        probe({ status: 'down', code: 'connection_refused', checkedAt: 1_700_000_060_000 }),
      ),
  ],
  [
    'the confirmed failure, without samples',
    (m, l) =>
      m.recordProbe(l, probe({ status: 'down', code: 'connection_refused', checkedAt: 1_700_000_065_000 })),
  ],
  [
    'a skipped probe naming its variable',
    (m, l) =>
      m.recordProbe(
        l,
        probe({
          status: 'degraded',
          code: 'skipped_credentials',
          missingCredential: 'API_TOKEN',
          checkedAt: 1_700_000_090_000,
        }),
      ),
  ],
  ['in maintenance', (m, l) => m.setMaintenance(l, true)],
  ['the worker crashed', (m, l) => m.setWorkerAlive(l, false)],
  ['routing changed on reload', (m, l) => m.setRouting(l, { severity: 'ticket', labels: { team: 'web' } })],
  [
    'UP again over HTTPS',
    (m, l) =>
      m.recordProbe(
        l,
        probe({
          checkedAt: 1_700_000_120_000,
          traceId: traceId(3),
          samples: [{ family: 'surface_tls_cert_expiry_timestamp_seconds', value: 1_800_000_000 }],
          phases: phases(0.01),
        }),
      ),
  ],
];

describe('/metrics render cache', () => {
  it('renders after every kind of change exactly what a renderer starting from scratch renders', async (t) => {
    // Exemplars carry the time they were observed: one clock for both renderers.
    t.mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 });
    const labels = { env: 'prod', surface: 'api', provider: 'http' };
    const other = { env: 'prod', surface: 'web', provider: 'http' };
    const cached = new ExporterMetrics({
      version: 't',
      defaultMetrics: false,
      providerFamilies: PROVIDER_FAMILIES,
    });
    for (let count = 1; count <= STEPS.length; count++) {
      const [name, step] = STEPS[count - 1] as [string, Step];
      step(cached, labels);
      // A neighbour probed every step keeps the regrouping by family honest.
      cached.recordProbe(other, probe({ phases: phases(count / 1000), traceId: traceId(100 + count) }));
      const fresh = new ExporterMetrics({
        version: 't',
        defaultMetrics: false,
        providerFamilies: PROVIDER_FAMILIES,
      });
      for (let index = 0; index < count; index++) {
        (STEPS[index] as [string, Step])[1](fresh, labels);
        fresh.recordProbe(
          other,
          probe({ phases: phases((index + 1) / 1000), traceId: traceId(101 + index) }),
        );
      }
      for (const accept of [OPENMETRICS, undefined]) {
        const got = (await cached.render(accept)).body.toString();
        const want = (await fresh.render(accept)).body.toString();
        assert.equal(got, want, `after "${name}" (${accept ? 'OpenMetrics' : 'text'})`);
      }
    }
    // The slow probe's exemplar stayed in its bucket through the later scrapes, beside the newest one.
    const last = (await cached.render(OPENMETRICS)).body.toString();
    for (const kept of [traceId(2), traceId(3)]) assert.match(last, new RegExp(`trace_id="${kept}"`));
    assert.match(
      last,
      /\nsurface_probe_phase_seconds\{env="prod",surface="api",provider="http",phase="processing"\} 0\.01\n/,
    );
  });
});

describe('lines not retained between scrapes', () => {
  it('are dropped once a scrape has written them and rendered again for the next', () => {
    const series = new SurfaceSeries({ env: 'prod', surface: 'api', provider: 'http' }, [PHASE_FAMILY]);
    series.observe(probe({ phases: phases(0.004) }));
    const block = series.block('text');
    assert.match(block.families[0] as string, /phase="processing"\} 0\.004\n/);
    assert.equal(block.byteLength, Buffer.byteLength(block.families[0] as string));
    series.releaseUnretained();
    assert.equal(block.families[0], '');
    assert.equal(block.byteLength, 0);
    assert.match(series.block('text').families[0] as string, /phase="processing"\} 0\.004\n/);
  });
});

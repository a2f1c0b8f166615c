import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CREDENTIAL_FAMILY_NAMES } from '../../src/metrics/credentials.js';
import { ExporterMetrics } from '../../src/metrics/metrics.js';
import { PROVIDER_FAMILIES } from '../../src/providers/index.js';
import { parseSamples, sampleKey } from '../helpers/support.js';

const OPENMETRICS_ACCEPT = 'application/openmetrics-text; version=1.0.0';

/** Surfaces whose label values take more bytes than characters, beside a plain one. */
const SURFACES = [
  { env: 'prod', surface: 'api-prod', provider: 'http' },
  { env: 'prod', surface: 'café-façade', provider: 'http' },
  { env: 'staging', surface: 'ダッシュボード', provider: 'cloudflare_pages' },
  { env: 'staging', surface: 'emoji-🚀', provider: 'http' },
];

function observeAll(metrics: ExporterMetrics, checkedAtSeconds: number): void {
  for (const [index, labels] of SURFACES.entries()) {
    metrics.recordProbe(labels, {
      status: index % 2 === 0 ? 'up' : 'degraded',
      code: index % 2 === 0 ? null : 'health_http_502',
      detail: '',
      durationSeconds: 0.003 * (index + 1),
      checkedAt: checkedAtSeconds * 1000,
      traceId: `${index}`.repeat(32),
      ...(labels.provider === 'cloudflare_pages'
        ? {
            samples: [
              {
                family: 'surface_deployment_info',
                labels: { stage: 'déploiement', status: 'réussi' },
                value: 1,
              },
              { family: 'surface_deployment_started_timestamp_seconds', value: 1_700_000_000 },
            ],
          }
        : {}),
    });
    metrics.setWorkerAlive(labels, true);
  }
}

/** The family each sample line belongs to, in body order: a family's lines must be contiguous. */
function familyRuns(text: string): string[] {
  const runs: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^# TYPE (\S+) /.exec(line);
    if (match?.[1]) runs.push(match[1]);
  }
  return runs;
}

describe('per-surface exposition', () => {
  for (const accept of [undefined, OPENMETRICS_ACCEPT]) {
    const format = accept ? 'OpenMetrics' : 'text';

    it(`${format}: every byte of non-ASCII label values lands, family by family`, async () => {
      const metrics = new ExporterMetrics({
        version: 'test',
        defaultMetrics: false,
        providerFamilies: PROVIDER_FAMILIES,
      });
      observeAll(metrics, 1_800_000_000);
      // A second scrape after a change re-renders some surfaces and reuses the others.
      await metrics.render(accept);
      metrics.recordProbe(SURFACES[1] as (typeof SURFACES)[number], {
        status: 'up',
        code: null,
        detail: '',
        durationSeconds: 0.001,
        checkedAt: 1_800_000_030_000,
      });
      const { body } = await metrics.render(accept);
      const text = body.toString('utf8');

      assert.equal(
        Buffer.byteLength(text),
        body.length,
        'the body is valid UTF-8 with nothing cut or left over',
      );
      assert.ok(!text.includes('\u0000'), 'no unwritten bytes');
      assert.ok(text.endsWith(accept ? '# EOF\n' : '\n'));
      const samples = parseSamples(text);
      for (const labels of SURFACES) {
        assert.equal(samples.get(sampleKey('surface_worker_alive', labels)), 1, JSON.stringify(labels));
        assert.equal(
          samples.get(sampleKey('surface_probe_duration_seconds_bucket', { ...labels, le: '+Inf' })) !==
            undefined,
          true,
        );
      }
      assert.equal(samples.get(sampleKey('surface_up', SURFACES[1] as Record<string, string>)), 1);
      assert.equal(samples.get(sampleKey('surface_up', SURFACES[3] as Record<string, string>)), 0);
      assert.equal(
        samples.get(
          sampleKey('surface_deployment_info', {
            ...SURFACES[2],
            stage: 'déploiement',
            status: 'réussi',
          } as Record<string, string>),
        ),
        1,
      );
      const runs = familyRuns(text).filter(
        (name) =>
          name.startsWith('surface_') &&
          !name.startsWith('surface_poller') &&
          !name.startsWith('surface_exporter') &&
          !name.startsWith('surface_provider') &&
          !CREDENTIAL_FAMILY_NAMES.has(name),
      );
      assert.deepEqual(
        runs,
        metrics
          .families()
          .filter(
            (family) => family.labelNames.includes('surface') && !CREDENTIAL_FAMILY_NAMES.has(family.name),
          )
          .map((family) =>
            accept && family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name,
          ),
        'each family once, in order',
      );
      // Every sample line sits under its own family's header.
      let current = '';
      for (const line of text.split('\n')) {
        const header = /^# TYPE (\S+) /.exec(line);
        if (header?.[1]) current = header[1];
        else if (line && !line.startsWith('#'))
          assert.ok(line.startsWith(current), `${line} under ${current}`);
      }
    });
  }
});

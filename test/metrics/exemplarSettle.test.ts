import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExporterMetrics } from '../../src/metrics/metrics.js';

const OPENMETRICS_ACCEPT = 'application/openmetrics-text; version=1.0.0';
const WWW = { env: 'prod', surface: 'www', provider: 'http' };
const API = { env: 'prod', surface: 'api', provider: 'http' };
/** A force-poll's probes share this one trace id. */
const FORCE_POLL = '4bf92f3577b34da6a3ce929d0e0e4736';

/** The trace ids of each surface's exemplars, as an OpenMetrics scrape shows them. */
async function exemplarsBySurface(metrics: ExporterMetrics): Promise<Map<string, string[]>> {
  const text = (await metrics.render(OPENMETRICS_ACCEPT)).body.toString('utf8');
  const found = new Map<string, string[]>();
  for (const match of text.matchAll(/surface="([^"]+)".* # \{trace_id="([0-9a-f]{32})"\}/g)) {
    const [, surface, traceId] = match as unknown as [string, string, string];
    found.set(surface, [...(found.get(surface) ?? []), traceId]);
  }
  return found;
}

describe('exemplars held until their probe span is exported', () => {
  it("a force-poll's shared trace id settles per surface: one surface's exported span shows only its own exemplar", async () => {
    const metrics = new ExporterMetrics({ version: 'test', defaultMetrics: false });
    metrics.holdExemplarsUntilExported();
    const outcome = {
      status: 'up' as const,
      code: null,
      detail: 'ok',
      durationSeconds: 0.01,
      checkedAt: 1_800_000_000_000,
    };
    metrics.recordProbe(WWW, { ...outcome, traceId: FORCE_POLL });
    metrics.recordProbe(API, { ...outcome, traceId: FORCE_POLL });
    assert.deepEqual(await exemplarsBySurface(metrics), new Map(), 'nothing shows before an export');

    // The batch holding www's probe span was exported; api's is still queued (or lost later).
    metrics.settleExemplars([{ traceId: FORCE_POLL, ...WWW }], true);
    assert.deepEqual(await exemplarsBySurface(metrics), new Map([['www', [FORCE_POLL]]]));

    metrics.settleExemplars([{ traceId: FORCE_POLL, ...API }], false);
    assert.deepEqual(
      await exemplarsBySurface(metrics),
      new Map([['www', [FORCE_POLL]]]),
      "api's span was lost: it gets no exemplar",
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram, type OpenMetricsContentType, Registry } from 'prom-client';
import { OneLabelHistogram } from '../../src/metrics/oneLabelHistogram.js';
import { renderPrometheusText } from '../../src/metrics/text.js';

const BUCKETS = [0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30];
// On a bound, between bounds, under the first and over the last, in two lanes; the third lane is never observed.
const OBSERVATIONS: Array<[string, number]> = [
  ['queue', 0],
  ['queue', 0.001],
  ['queue', 0.0011],
  ['slow', 2.5],
  ['queue', 0.4],
  ['slow', 31],
  ['queue', 10],
  ['slow', 0.00001],
];

function registries() {
  const ours = new Registry<OpenMetricsContentType>();
  ours.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const theirs = new Registry<OpenMetricsContentType>();
  theirs.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const histogram = new OneLabelHistogram('wait_seconds', 'How long.', 'lane', BUCKETS, [ours]);
  const reference = new Histogram({
    name: 'wait_seconds',
    help: 'How long.',
    labelNames: ['lane'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  return { ours, theirs, histogram, reference };
}

describe('OneLabelHistogram', () => {
  it('renders what prom-client’s Histogram renders for the same observations, in both formats', async () => {
    const { ours, theirs, histogram, reference } = registries();
    for (const [lane, value] of OBSERVATIONS) {
      histogram.observe(lane, value);
      reference.observe({ lane }, value);
    }
    const openMetrics = await ours.metrics();
    assert.equal(openMetrics, await theirs.metrics());
    assert.match(openMetrics, /wait_seconds_bucket\{le="0.001",lane="queue"\} 2\n/);
    assert.match(openMetrics, /wait_seconds_bucket\{le="\+Inf",lane="slow"\} 3\n/);
    assert.equal(
      renderPrometheusText(await ours.getMetricsAsJSON()),
      renderPrometheusText(await theirs.getMetricsAsJSON()),
    );
  });

  it('has no series before its first observation and none after a reset', async () => {
    const { ours, histogram } = registries();
    assert.doesNotMatch(await ours.metrics(), /wait_seconds_count/);
    histogram.observe('queue', 1);
    assert.match(await ours.metrics(), /wait_seconds_count\{lane="queue"\} 1\n/);
    ours.resetMetrics();
    assert.doesNotMatch(await ours.metrics(), /wait_seconds_count/);
  });
});

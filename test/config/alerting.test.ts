import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { formatProblem, parseRegistry, RegistryError } from '../../src/config/load.js';
import { inMaintenance, type MaintenanceWindow } from '../../src/core/maintenance.js';

const FILE = 'surfaces.yaml';

function load(registry: Record<string, unknown>) {
  return parseRegistry(stringify(registry), FILE);
}

function problemsOf(registry: Record<string, unknown>): string[] {
  try {
    load(registry);
  } catch (err) {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    return err.problems.map(formatProblem);
  }
  assert.fail('the registry loaded without error');
}

const www = (extra: Record<string, unknown> = {}) => ({
  name: 'www',
  provider: 'http',
  url: 'https://www.example.com/health',
  ...extra,
});

describe('severity, labels and maintenance in the registry', () => {
  it('defaults to page with no labels, and applies environment defaults under the surface’s own keys', () => {
    const registry = load({
      environment_defaults: {
        staging: { severity: 'ticket', labels: { team: 'platform', tier: 'bronze' } },
      },
      environments: {
        prod: [www()],
        staging: [www({ labels: { team: 'web' } }), { ...www(), name: 'api', severity: 'page' }],
      },
    });
    const routing = Object.fromEntries(registry.surfaces.map((surface) => [surface.key, surface.routing]));
    assert.deepEqual(routing, {
      'prod/www': { severity: 'page', labels: {} },
      'staging/www': { severity: 'ticket', labels: { team: 'web', tier: 'bronze' } },
      'staging/api': { severity: 'page', labels: { team: 'platform', tier: 'bronze' } },
    });
    assert.equal(registry.poller.confirm_after_seconds, 5);
  });

  it('adds the environment’s windows to the surface’s own', () => {
    const envWindow = { from: '2026-12-01T02:00:00Z', to: '2026-12-01T03:00:00Z' };
    const own = { every: ['sun'], at: '02:00', for_minutes: 60, timezone: 'Europe/Berlin' };
    const registry = load({
      environment_defaults: { prod: { maintenance: [envWindow] } },
      environments: { prod: [www({ maintenance: [own] })] },
    });
    assert.deepEqual(registry.surfaces[0]?.maintenance, [envWindow, own]);
  });

  it('names file, field and value of every bad label, severity and window', () => {
    const problems = problemsOf({
      environments: {
        prod: [
          www({
            severity: 'urgent',
            labels: { Team: 'x', job: 'y', __meta: 'z', owner: 'a'.repeat(65), ok: 'line\nbreak' },
            maintenance: [
              { every: ['sun'], at: '02:00', for_minutes: 60, timezone: 'Mars/Olympus' },
              { from: '2026-12-01T03:00:00Z', to: '2026-12-01T02:00:00Z' },
              { from: '2026-12-01 02:00', to: '2026-12-01T04:00:00Z' },
              { every: ['sunday'], at: '25:00', for_minutes: 0, timezone: 'UTC' },
            ],
          }),
        ],
      },
    });
    const text = problems.join('\n');
    for (const expected of [
      /surfaces\.yaml: environments\.prod\[0\]\.severity: .*"urgent"/,
      /environments\.prod\[0\]\.labels\.Team: .*label name/,
      /environments\.prod\[0\]\.labels\.job: a label name other than env, surface, provider, severity, code, status, instance, job/,
      /environments\.prod\[0\]\.labels\.__meta: label names starting with __ are reserved/,
      /environments\.prod\[0\]\.labels\.owner: 1 to 64 printable characters/,
      /environments\.prod\[0\]\.labels\.ok: 1 to 64 printable characters/,
      /environments\.prod\[0\]\.maintenance\[0\]\.timezone: an IANA time zone.*\(got "Mars\/Olympus"\)/,
      /environments\.prod\[0\]\.maintenance\[1\]\.to: `to` must be after `from`/,
      /environments\.prod\[0\]\.maintenance\[2\]\.from: an RFC 3339 time with a zone.*\(got "2026-12-01 02:00"\)/,
      /environments\.prod\[0\]\.maintenance\[3\]\.every\[0\]: a weekday/,
      /environments\.prod\[0\]\.maintenance\[3\]\.at: a local time HH:MM/,
      /environments\.prod\[0\]\.maintenance\[3\]\.for_minutes/,
    ]) {
      assert.match(text, expected);
    }
  });

  it('refuses defaults for an environment the registry does not have', () => {
    assert.deepEqual(
      problemsOf({ environment_defaults: { qa: { severity: 'ticket' } }, environments: { prod: [www()] } }),
      [
        'surfaces.yaml: environment_defaults.qa: no environment of that name under environments (known: prod)',
      ],
    );
  });

  it('allows at most 8 labels, the environment’s included', () => {
    const labels = (count: number, prefix: string) =>
      Object.fromEntries(Array.from({ length: count }, (_, index) => [`${prefix}${index}`, 'v']));
    assert.match(
      problemsOf({ environments: { prod: [www({ labels: labels(9, 'l') })] } }).join('\n'),
      /at most 8 labels/,
    );
    const merged = problemsOf({
      environment_defaults: { prod: { labels: labels(5, 'e') } },
      environments: { prod: [www({ labels: labels(4, 's') })] },
    });
    assert.deepEqual(merged.length, 1);
    assert.match(
      merged[0] ?? '',
      /environments\.prod\[0\]\.labels: at most 8 labels, environment_defaults\.prod\.labels included/,
    );
    assert.equal(load({ environments: { prod: [www({ labels: labels(8, 'l') })] } }).surfaces.length, 1);
  });

  it('refuses a negative confirm_after_seconds and accepts 0 (confirmation off)', () => {
    assert.match(
      problemsOf({ poller: { confirm_after_seconds: -1 }, environments: { prod: [www()] } }).join('\n'),
      /poller\.confirm_after_seconds/,
    );
    assert.equal(
      load({ poller: { confirm_after_seconds: 0 }, environments: { prod: [www()] } }).poller
        .confirm_after_seconds,
      0,
    );
  });
});

describe('maintenance windows', () => {
  const at = (iso: string) => Date.parse(iso);

  it('an absolute window covers [from, to)', () => {
    const window: MaintenanceWindow = { from: '2026-12-01T02:00:00+01:00', to: '2026-12-01T03:00:00+01:00' };
    assert.equal(inMaintenance([window], at('2026-12-01T00:59:59Z')), false);
    assert.equal(inMaintenance([window], at('2026-12-01T01:00:00Z')), true);
    assert.equal(inMaintenance([window], at('2026-12-01T01:59:59Z')), true);
    assert.equal(inMaintenance([window], at('2026-12-01T02:00:00Z')), false);
  });

  it('a weekly window follows its time zone, summer and winter', () => {
    const window: MaintenanceWindow = {
      every: ['sun'],
      at: '02:00',
      for_minutes: 60,
      timezone: 'Europe/Berlin',
    };
    // Sunday 2026-01-04 02:00 in Berlin is 01:00 UTC (CET); Sunday 2026-07-05 02:00 is 00:00 UTC (CEST).
    assert.equal(inMaintenance([window], at('2026-01-04T00:59:00Z')), false);
    assert.equal(inMaintenance([window], at('2026-01-04T01:00:00Z')), true);
    assert.equal(inMaintenance([window], at('2026-01-04T01:59:00Z')), true);
    assert.equal(inMaintenance([window], at('2026-01-04T02:00:00Z')), false);
    assert.equal(inMaintenance([window], at('2026-07-05T00:30:00Z')), true);
    assert.equal(inMaintenance([window], at('2026-07-05T01:30:00Z')), false);
    // Monday at the same hour is not in the window.
    assert.equal(inMaintenance([window], at('2026-01-05T01:30:00Z')), false);
  });

  it('a weekly window that starts Saturday night runs on into Sunday', () => {
    const window: MaintenanceWindow = { every: ['sat'], at: '23:00', for_minutes: 120, timezone: 'UTC' };
    assert.equal(inMaintenance([window], at('2026-01-03T22:59:00Z')), false);
    assert.equal(inMaintenance([window], at('2026-01-03T23:30:00Z')), true);
    assert.equal(inMaintenance([window], at('2026-01-04T00:59:00Z')), true);
    assert.equal(inMaintenance([window], at('2026-01-04T01:00:00Z')), false);
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ERROR_CODE_DOCS } from '../../src/providers/index.js';
import {
  ALERT_THRESHOLDS,
  alertDefinitions,
  buildRuleFile,
  DEFAULT_ALERT_OPTIONS,
  renderAlertsTable,
  renderRuleFile,
  scaleThresholds,
  UNREACHABLE_CODES,
} from '../../tools/observability/alerts.js';
import { GENERATED_FILES, generateAll } from '../../tools/observability/generate.js';
import { githubAnchors, REPO_ROOT, run } from '../e2e/stack.js';
import { requireStackOrSkip } from '../helpers/stack.js';

const RULES_FILE = join(REPO_ROOT, GENERATED_FILES.rules);
const TESTS_DIR = join(REPO_ROOT, 'alerts/tests');
const RUNBOOK = join(REPO_ROOT, 'docs/runbook.md');

describe('generated files', () => {
  it('match what tools/ generates, byte for byte', async () => {
    for (const [path, content] of generateAll()) {
      const committed = await readFile(join(REPO_ROOT, path), 'utf8');
      assert.equal(committed, content, `${path} is stale: run npm run generate`);
    }
  });

  it('tools/generate.ts --check fails on a stale file and passes once regenerated', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'generate-check-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const script = join(REPO_ROOT, 'tools/generate.ts');
    const written = await run(process.execPath, ['--import', 'tsx', script, '--out-dir', dir]);
    assert.equal(written.code, 0, written.stderr);
    const clean = await run(process.execPath, ['--import', 'tsx', script, '--check', '--out-dir', dir]);
    assert.equal(clean.code, 0, clean.stderr);

    const rules = join(dir, GENERATED_FILES.rules);
    await writeFile(rules, `${await readFile(rules, 'utf8')}# hand edit\n`);
    const stale = await run(process.execPath, ['--import', 'tsx', script, '--check', '--out-dir', dir]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /alerts\/surface-exporter\.rules\.yml/);
  });
});

describe('alert contract', () => {
  const rules = buildRuleFile().groups.flatMap((group) => group.rules);
  const perSurface = (expr: string) => /by \(env, surface/.test(expr);

  it('gives every alert a severity, a fixed summary, a templated description and a runbook anchor', () => {
    assert.ok(rules.length >= 14);
    for (const rule of rules) {
      if (rule.labels?.severity === undefined) {
        // The surface's own severity, joined from surface_info.
        assert.match(
          rule.expr,
          /surface_info\{/,
          `${rule.alert}: no severity label and no surface_info join`,
        );
      } else assert.match(rule.labels.severity, /^(page|ticket)$/, rule.alert);
      assert.doesNotMatch(rule.annotations.summary, /\{\{/, `${rule.alert}: summary must be fixed text`);
      assert.match(rule.annotations.description, /\{\{/, `${rule.alert}: description must be templated`);
      assert.equal(
        rule.annotations.runbook_url,
        `${DEFAULT_ALERT_OPTIONS.runbookBaseUrl}#${rule.alert.toLowerCase()}`,
      );
      if (perSurface(rule.expr)) {
        for (const label of ['env', 'surface']) {
          assert.ok(
            rule.annotations.description.includes(`$labels.${label}`),
            `${rule.alert} names ${label}`,
          );
        }
        assert.match(
          rule.annotations.description,
          /\$labels\.code|\$labels\.variable|surface_error_info|still building|expires in \{\{ \$value/,
        );
      }
    }
  });

  it('has a `for` on every alert, except those whose threshold is itself an age', () => {
    for (const rule of rules) {
      if (rule.for === undefined) {
        assert.match(rule.expr, /time\(\) -/, `${rule.alert} has no for and no age threshold`);
      }
    }
  });

  it('covers what the runbook asks for, with its thresholds', () => {
    const byName = new Map(rules.map((rule) => [rule.alert, rule]));
    const expect = (name: string, severity: string | undefined, pattern: RegExp) => {
      const rule = byName.get(name);
      assert.ok(rule, `missing alert ${name}`);
      assert.equal(rule.labels?.severity, severity, name);
      assert.match(`${rule.expr} for:${rule.for}`, pattern, name);
    };
    expect('SurfacePollerHeartbeatStale', 'page', /> 120 for:undefined/);
    expect('SurfaceExporterDown', 'page', /absent\(up\{job="surface-exporter"\}\)/);
    expect('SurfaceWorkerDead', 'ticket', /for:5m/);
    expect('SurfaceDown', undefined, /status="down".*for:1m/s);
    expect('SurfaceUnreachable', undefined, /health_http_5\.\..*for:1m/s);
    expect('SurfaceExporterBlind', 'page', />= 0\.8\n.*>= 3.*for:1m/s);
    expect('SurfaceDegraded', 'ticket', /status="degraded".*for:5m/s);
    expect('SurfaceCheckStale', 'ticket', /surface_last_check_timestamp_seconds.*> 120/s);
    expect('SurfaceCredentialsMissing', 'ticket', /surface_credential_missing.*for:5m/s);
    assert.equal(byName.get('SurfaceCredentialsMissing')?.labels?.code, 'skipped_credentials');
    expect('SurfaceAccessGateRejecting', 'ticket', /code=~"access_gate_redirect\|access_denied"/);
    expect('PagesDeployStuckBuilding', 'ticket', /> 600\)/);
    expect('PagesDeployFailed', 'ticket', /deploy_failure/);
    expect('PagesProjectNotFound', 'ticket', /http_404.*for:15m/s);
    expect(
      'ProviderRateBudgetLow',
      'ticket',
      /\/ on \(provider\) max by \(provider\) \(surface_provider_rate_limit_quota\{[^}]*provider="heroku"\}\) < 0\.1.*provider="cloudflare"\}\) < 0\.1/s,
    );
    expect('SurfaceProbesCrashing', 'ticket', /probe_crashed.*> 0\n.*for:10m/s);
    expect('SurfaceExporterConfigReloadFailed', 'ticket', /surface_exporter_config_last_reload_successful/);
    expect('SurfacePollerQueueBacklog', 'ticket', /surface_poller_probes_queued.*> 0 for:10m/s);
  });

  it('selects only the scrape job it is given', () => {
    const custom = buildRuleFile({ ...DEFAULT_ALERT_OPTIONS, jobSelector: 'job="edge-probes"' });
    for (const rule of custom.groups.flatMap((group) => group.rules)) {
      const expr = rule.expr.replace(/#.*$/gm, '');
      assert.doesNotMatch(expr, /surface-exporter/, rule.alert);
      for (const selector of expr.matchAll(/\b([a-z_]+)?\{([^}]*)\}/g)) {
        assert.match(selector[2] ?? '', /job="edge-probes"/, `${rule.alert}: ${selector[0]}`);
      }
    }
  });

  it('scales every duration for the fast variant and nothing else', () => {
    const fast = scaleThresholds(ALERT_THRESHOLDS, 1 / 30);
    assert.equal(fast.heartbeatStaleSeconds, 4);
    assert.equal(fast.surfaceDegradedForSeconds, 10);
    assert.equal(fast.rateBudgetLowFraction, ALERT_THRESHOLDS.rateBudgetLowFraction);
    const text = renderRuleFile({ ...DEFAULT_ALERT_OPTIONS, thresholds: fast });
    assert.match(text, /for: 10s/);
    assert.doesNotMatch(text, /for: \d+m/);
  });

  it('renders the README alerts table with every alert and its runbook link', () => {
    const table = renderAlertsTable();
    for (const definition of alertDefinitions()) {
      const severity = definition.severity === 'surface' ? "the surface's" : definition.severity;
      assert.ok(table.includes(`| \`${definition.name}\` | ${severity}`), definition.name);
      assert.ok(table.includes(`docs/runbook.md#${definition.name.toLowerCase()}`));
    }
  });
});

describe('the cannot-reach-or-serve family', () => {
  const rules = buildRuleFile().groups.flatMap((group) => group.rules);
  it('names only codes the providers declare, and its network part is what blindness counts', () => {
    const families = new Set(ERROR_CODE_DOCS.map((doc) => doc.code.replace('<status>', '5xx')));
    for (const member of UNREACHABLE_CODES) assert.ok(families.has(member.code), member.code);
    assert.deepEqual(
      UNREACHABLE_CODES.filter((member) => member.network)
        .map((member) => member.code)
        .sort(),
      ['connection_error', 'health_no_response', 'probe_timeout', 'tls_error'],
    );
  });

  it('is listed in the README', async () => {
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    for (const member of UNREACHABLE_CODES) assert.ok(readme.includes(`\`${member.code}\``), member.code);
  });

  it('every per-surface alert joins surface_info and is quiet in maintenance', () => {
    for (const rule of rules) {
      if (!/by \(env, surface/.test(rule.expr)) continue;
      assert.match(rule.expr, /surface_info\{/, rule.alert);
      assert.match(
        rule.expr,
        /unless on \(env, surface\) \(max by \(env, surface\) \(surface_maintenance/,
        rule.alert,
      );
    }
  });
});

describe('docs/runbook.md', () => {
  it('has a section for every runbook_url anchor and every error code family', async () => {
    const anchors = githubAnchors(await readFile(RUNBOOK, 'utf8'));
    for (const rule of buildRuleFile().groups.flatMap((group) => group.rules)) {
      const anchor = new URL(rule.annotations.runbook_url).hash.slice(1);
      assert.ok(anchors.has(anchor), `runbook has no section #${anchor} for ${rule.alert}`);
    }
    for (const doc of ERROR_CODE_DOCS) {
      const anchor = doc.code.replace(/[<>]/g, '');
      assert.ok(anchors.has(anchor), `runbook has no section #${anchor} for code ${doc.code}`);
    }
  });

  it('links only to anchors it has, and is generic (no real app names)', async () => {
    const text = await readFile(RUNBOOK, 'utf8');
    const anchors = githubAnchors(text);
    for (const link of text.matchAll(/\]\(#([^)]+)\)/g)) {
      assert.ok(anchors.has(link[1] ?? ''), `broken link #${link[1]}`);
    }
    assert.doesNotMatch(text, /raxx|moosequest|kristerpher/i);
  });
});

describe('promtool', () => {
  it('accepts the shipped rules and the fast variant (promtool check rules)', async (t) => {
    if (!requireStackOrSkip(t, 'promtool')) return;
    const dir = await mkdtemp(join(tmpdir(), 'rules-check-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const fast = join(dir, 'fast.rules.yml');
    await writeFile(
      fast,
      renderRuleFile({ ...DEFAULT_ALERT_OPTIONS, thresholds: scaleThresholds(ALERT_THRESHOLDS, 1 / 30) }),
    );
    const checked = await run('promtool', ['check', 'rules', RULES_FILE, fast]);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.match(
      checked.stdout,
      new RegExp(`SUCCESS: ${buildRuleFile().groups[0]?.rules.length} rules found`),
    );
  });

  it('passes alerts/tests (promtool test rules), which test each alert on both sides of its threshold', async (t) => {
    if (!requireStackOrSkip(t, 'promtool')) return;
    const files = (await readdir(TESTS_DIR)).filter((name) => name.endsWith('.yml')).sort();
    const tested = new Map<string, { quiet: boolean; firing: boolean }>();
    for (const file of files) {
      const suite = parse(await readFile(join(TESTS_DIR, file), 'utf8')) as {
        tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
      };
      for (const check of suite.tests.flatMap((test) => test.alert_rule_test ?? [])) {
        const seen = tested.get(check.alertname) ?? { quiet: false, firing: false };
        if ((check.exp_alerts ?? []).length > 0) seen.firing = true;
        else seen.quiet = true;
        tested.set(check.alertname, seen);
      }
    }
    for (const definition of alertDefinitions()) {
      assert.deepEqual(tested.get(definition.name), { quiet: true, firing: true }, definition.name);
    }
    // One promtool per file, in parallel: each file is independent.
    const results = await Promise.all(
      files.map((file) => run('promtool', ['test', 'rules', join(TESTS_DIR, file)])),
    );
    results.forEach((result, index) => {
      assert.equal(result.code, 0, `${files[index]}:\n${result.stdout}${result.stderr}`);
    });
  });
});

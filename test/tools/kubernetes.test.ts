import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import {
  PrometheusRule,
  ServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { parseShardSettings } from '../../src/app/sharding.js';
import { parseRegistry } from '../../src/config/load.js';
import { kubernetesManifests } from '../../tools/kubernetes/manifests.js';
import { buildRuleFile, DEFAULT_ALERT_OPTIONS } from '../../tools/observability/alerts.js';
import { REPO_ROOT, run } from '../e2e/stack.js';
import { requireStackOrSkip } from '../helpers/stack.js';

const DEPLOY = join(REPO_ROOT, 'deploy/kubernetes');

// biome-ignore lint/suspicious/noExplicitAny: each model class takes its own typed data
type ModelClass = new (data: any) => { validate(): void };
/** The schema of every kind the manifests may hold: anything else fails the test. */
const MODELS: Record<string, ModelClass> = {
  'apps/v1 StatefulSet': StatefulSet,
  'v1 Service': Service,
  'v1 ConfigMap': ConfigMap,
  'v1 Secret': Secret,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1 ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1 PrometheusRule': PrometheusRule,
};

interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: read as the test needs
  spec?: any;
  data?: Record<string, string>;
}

function validate(resource: Resource, where: string): void {
  const model = MODELS[`${resource.apiVersion} ${resource.kind}`];
  assert.ok(model, `${where}: no schema for ${resource.apiVersion} ${resource.kind}`);
  try {
    new model(resource).validate();
  } catch (err) {
    assert.fail(`${where}: ${resource.kind} ${resource.metadata?.name}: ${(err as Error).message}`);
  }
}

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.yaml'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

async function kustomize(overlay: string): Promise<Resource[]> {
  const rendered = await run('kubectl', ['kustomize', join(DEPLOY, overlay)]);
  assert.equal(rendered.code, 0, rendered.stderr);
  return parseAllDocuments(rendered.stdout).map((doc) => doc.toJS() as Resource);
}

const only = (resources: Resource[], kind: string) => resources.filter((resource) => resource.kind === kind);

describe('deploy/kubernetes', () => {
  it('is what tools/kubernetes generates, byte for byte', async () => {
    for (const [path, content] of kubernetesManifests()) {
      assert.equal(
        await readFile(join(REPO_ROOT, path), 'utf8'),
        content,
        `${path} is stale: npm run generate`,
      );
    }
    const committed = (await yamlFiles(DEPLOY)).map((file) => relative(REPO_ROOT, file));
    assert.deepEqual(committed, [...kubernetesManifests().keys()].sort(), 'no hand-written file beside them');
  });

  it('validates every manifest file against the Kubernetes and prometheus-operator schemas', async () => {
    let validated = 0;
    for (const file of await yamlFiles(DEPLOY)) {
      const document = parse(await readFile(file, 'utf8')) as Resource & { resources?: string[] };
      const where = relative(REPO_ROOT, file);
      if (document.kind === 'Kustomization') {
        assert.equal(document.apiVersion, 'kustomize.config.k8s.io/v1beta1', where);
        continue;
      }
      validate(document, where);
      validated++;
    }
    assert.equal(validated, 9);
  });

  it('refuses a manifest that breaks its schema (the validation can fail)', () => {
    const broken = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'broken' },
      spec: { selector: {}, endpoints: [{ port: 'http', interval: 'every 30 seconds' }] },
    };
    assert.throws(() => validate(broken, 'test'), /interval must match pattern/);
    assert.throws(
      () => validate({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } }, 'test'),
      /no schema for apps\/v1 Deployment/,
    );
  });

  it('renders the base with kubectl kustomize into the promised objects, each valid', async (t) => {
    if (!requireStackOrSkip(t, 'kubectl')) return;
    const resources = await kustomize('base');
    for (const resource of resources) validate(resource, 'kubectl kustomize base');
    assert.deepEqual(resources.map((resource) => resource.kind).sort(), [
      'ConfigMap',
      'ConfigMap',
      'PodDisruptionBudget',
      'PrometheusRule',
      'Service',
      'ServiceMonitor',
      'StatefulSet',
    ]);
    assert.equal(only(resources, 'Secret').length, 0, 'applying the base never overwrites the credentials');

    const [statefulSet] = only(resources, 'StatefulSet') as [Resource];
    const container = statefulSet.spec.template.spec.containers[0];
    const env = Object.fromEntries(
      container.env.map((variable: { name: string; value?: string }) => [variable.name, variable]),
    );
    assert.equal(env.SURFACE_TOTAL_SHARDS.value, String(statefulSet.spec.replicas), 'one shard per pod');
    assert.equal(env.POD_NAME.valueFrom.fieldRef.fieldPath, 'metadata.name');
    assert.ok(container.args.includes('--pod=$(POD_NAME)'));
    assert.ok(container.args.includes('--watch-config'));
    assert.match(container.image, /^surface-exporter:\d+\.\d+\.\d+/);
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      assert.equal(probe.httpGet.path, '/health');
      assert.equal(probe.httpGet.port, 'http');
    }
    assert.deepEqual(container.envFrom, [{ secretRef: { name: 'surface-exporter-credentials' } }]);
    // Every pod name the StatefulSet makes is a shard the exporter accepts.
    for (let ordinal = 0; ordinal < statefulSet.spec.replicas; ordinal++) {
      const pod = `${statefulSet.metadata.name}-${ordinal}`;
      assert.deepEqual(
        parseShardSettings({ pod }, { SURFACE_TOTAL_SHARDS: env.SURFACE_TOTAL_SHARDS.value }),
        {
          ordinal,
          total: statefulSet.spec.replicas,
        },
      );
    }

    const [service] = only(resources, 'Service') as [Resource];
    assert.equal(service.spec.clusterIP, 'None', 'headless: Prometheus scrapes each pod');
    assert.equal(service.spec.publishNotReadyAddresses, true, 'a stalled pod stays scraped');
    const podLabels = statefulSet.spec.template.metadata.labels;
    for (const [key, value] of Object.entries(service.spec.selector)) assert.equal(podLabels[key], value);

    const [monitor] = only(resources, 'ServiceMonitor') as [Resource];
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) {
      assert.equal(service.metadata.labels?.[key], value, 'the ServiceMonitor selects the Service');
    }
    assert.equal(monitor.spec.endpoints[0].port, service.spec.ports[0].name);
    // prometheus-operator names the job after the Service: the job the rules select.
    assert.equal(DEFAULT_ALERT_OPTIONS.jobSelector, `job="${service.metadata.name}"`);
    const relabel = monitor.spec.endpoints[0].relabelings[0];
    assert.equal(relabel.targetLabel, 'shard');
    const anchored = new RegExp(`^(?:${relabel.regex})$`);
    for (const pod of ['surface-exporter-0', 'surface-exporter-12', 'surface-exporter-b-2']) {
      const shard = anchored.exec(pod)?.[1];
      assert.equal(Number(shard), parseShardSettings({ pod }, { SURFACE_TOTAL_SHARDS: '13' }).ordinal, pod);
    }

    for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
      assert.ok(only(resources, kind)[0]?.metadata.labels?.release, `${kind} carries the release label`);
    }
    const dashboards = only(resources, 'ConfigMap').find((map) => map.metadata.name.endsWith('-dashboards'));
    assert.equal(dashboards?.metadata.labels?.grafana_dashboard, '1');
    for (const [file, json] of Object.entries(dashboards?.data ?? {})) {
      const model = JSON.parse(json) as { uid?: string; __inputs?: unknown };
      assert.ok(model.uid, file);
      assert.equal(model.__inputs, undefined, `${file}: provisioned files have no import inputs`);
      assert.doesNotMatch(json, /\$\{DS_PROMETHEUS\}/, file);
    }
    const registry = only(resources, 'ConfigMap').find((map) => map.metadata.name.endsWith('-registry'));
    const loaded = parseRegistry(registry?.data?.['surfaces.yaml'] ?? '', 'registry ConfigMap');
    assert.ok(loaded.surfaces.length > 0);

    const [budget] = only(resources, 'PodDisruptionBudget') as [Resource];
    assert.equal(budget.spec.maxUnavailable, 1);
  });

  it('the HA overlay runs two replicas of every shard, in two StatefulSets with their own selectors', async (t) => {
    if (!requireStackOrSkip(t, 'kubectl')) return;
    const resources = await kustomize('overlays/ha');
    for (const resource of resources) validate(resource, 'kubectl kustomize overlays/ha');
    const sets = only(resources, 'StatefulSet');
    assert.equal(sets.length, 2);
    const [a, b] = sets as [Resource, Resource];
    assert.equal(a.spec.replicas, b.spec.replicas);
    assert.notDeepEqual(a.spec.selector, b.spec.selector, 'each StatefulSet owns only its pods');
    for (let ordinal = 0; ordinal < a.spec.replicas; ordinal++) {
      const shards = sets.map(
        (set) =>
          parseShardSettings({ pod: `${set.metadata.name}-${ordinal}` }, { SURFACE_TOTAL_SHARDS: '3' })
            .ordinal,
      );
      assert.deepEqual(shards, [ordinal, ordinal], `pod ${ordinal} of each set is shard ${ordinal}`);
    }
    assert.equal(only(resources, 'ServiceMonitor').length, 1, 'one job for both replicas');
  });

  it("holds the rule file's groups in the PrometheusRule, and promtool check rules accepts them", async (t) => {
    const rule = parse(await readFile(join(DEPLOY, 'base/prometheusrule.yaml'), 'utf8')) as Resource;
    assert.deepEqual(rule.spec, buildRuleFile());
    if (!requireStackOrSkip(t, 'promtool')) return;
    const dir = await mkdtemp(join(tmpdir(), 'prometheusrule-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const groups = join(dir, 'groups.yml');
    await writeFile(groups, JSON.stringify(rule.spec));
    const checked = await run('promtool', ['check', 'rules', groups]);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.match(
      checked.stdout,
      new RegExp(`SUCCESS: ${buildRuleFile().groups[0]?.rules.length} rules found`),
    );
  });

  it('takes the job selector and runbook base URL from the generator command line', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'generate-k8s-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const generated = await run(process.execPath, [
      '--import',
      'tsx',
      join(REPO_ROOT, 'tools/generate.ts'),
      '--out-dir',
      dir,
      '--job-selector',
      'job="surface-exporter", namespace="observability"',
      '--runbook-base-url',
      'https://wiki.example.com/surface-exporter/runbook',
    ]);
    assert.equal(generated.code, 0, generated.stderr);
    const rule = parse(
      await readFile(join(dir, 'deploy/kubernetes/base/prometheusrule.yaml'), 'utf8'),
    ) as Resource;
    const rules = rule.spec.groups[0].rules as Array<{ expr: string; annotations: { runbook_url: string } }>;
    for (const one of rules) {
      assert.match(one.expr, /namespace="observability"/);
      assert.match(one.annotations.runbook_url, /^https:\/\/wiki\.example\.com\/surface-exporter\/runbook#/);
    }
  });
});

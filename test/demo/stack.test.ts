import assert from 'node:assert/strict';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  findStackBinaries,
  type RunningStack,
  STACK_INSTALL_HINT,
  startStack,
} from '../../src/demo/stack.js';
import { REPO_ROOT, spawnCli, type TempDir, TSX_LOADER, tempDir } from '../cli/support.js';
import { requireStackOrSkip } from '../helpers/stack.js';
import { captureLogs, waitFor } from '../helpers/support.js';

interface PrometheusAlert {
  state: string;
  labels: Record<string, string>;
}

describe('npm run stack', () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await dir.remove();
  });

  it('fires the shipped alerts on the demo in a real Prometheus and reaches Alertmanager', async (t) => {
    if (!requireStackOrSkip(t, 'prometheus') || !requireStackOrSkip(t, 'prometheus-alertmanager')) return;
    const binaries = findStackBinaries(process.env.PATH ?? '');
    assert.ok(binaries);
    let stack: RunningStack | undefined;
    try {
      stack = await startStack(binaries, {
        root: REPO_ROOT,
        workDir: join(dir.path, 'stack'),
        env: {},
        log: captureLogs('warn').log,
        forSeconds: 2,
        scrapeIntervalSeconds: 1,
        evaluationIntervalSeconds: 1,
      });
      const { prometheusUrl, alertmanagerUrl } = stack;
      // Debian's Prometheus 2.42 has no React UI and Debian's Alertmanager no web UI at all.
      const printed = [
        ...stack.banner.matchAll(
          /^ {2}(alerts in Prometheus|rules|targets|alerts \(API\)|Alertmanager \(API\)) +(http:\/\/\S+)$/gm,
        ),
      ];
      assert.equal(printed.length, 5, stack.banner);
      for (const [, what, url] of printed) {
        const res = await fetch(url as string);
        await res.arrayBuffer();
        assert.equal(res.status, 200, `${what}: ${url}`);
      }
      assert.match(stack.banner, new RegExp(`amtool --alertmanager\\.url=${alertmanagerUrl} alert query`));
      const prose = stack.banner.replace(/\s+/g, ' ');
      assert.match(prose, /Every `for:` is cut to 2 s/);
      assert.match(prose, /PagesDeployStuckBuilding has no `for:` to cut: its expression waits 10 minutes/);
      const rules = await readFile(join(dir.path, 'stack', 'surface-exporter.rules.yml'), 'utf8');
      const shipped = await readFile(join(REPO_ROOT, 'alerts/surface-exporter.rules.yml'), 'utf8');
      assert.match(shipped, /for 5 minutes/, 'the shipped rules say "for 5 minutes"');
      assert.doesNotMatch(rules, /for (2|5|10|15) minutes/, 'a cut rule does not claim its shipped duration');
      assert.match(rules, /for 2 s \(npm run stack cut the shipped 5 minutes\)/);
      const firing = await waitFor(
        async () => {
          const body = (await (await fetch(`${prometheusUrl}/api/v1/alerts`)).json()) as {
            data: { alerts: PrometheusAlert[] };
          };
          const alerts = body.data.alerts.filter((alert) => alert.state === 'firing');
          return alerts.some((alert) => alert.labels.alertname === 'SurfaceDown') ? alerts : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500, what: 'SurfaceDown firing in Prometheus' },
      );
      const down = firing.find((alert) => alert.labels.alertname === 'SurfaceDown');
      assert.equal(down?.labels.surface, 'console-staging');
      assert.equal(down?.labels.severity, 'page');
      await waitFor(
        async () => {
          const alerts = (await (
            await fetch(`${alertmanagerUrl}/api/v2/alerts`)
          ).json()) as PrometheusAlert[];
          return alerts.some((alert) => alert.labels.alertname === 'SurfaceDown');
        },
        { timeoutMs: 15_000, intervalMs: 500, what: 'SurfaceDown in Alertmanager' },
      );
    } finally {
      await stack?.stop();
    }
  });

  it('prints the apt-get line when Prometheus or Alertmanager is missing', async () => {
    // A PATH holding node and nothing else.
    const bin = join(dir.path, 'bin');
    await mkdir(bin);
    await symlink(process.execPath, join(bin, 'node'));
    assert.equal(findStackBinaries(bin), undefined);
    const child = spawnCli([], {
      env: { PATH: bin },
      command: [process.execPath, '--import', TSX_LOADER, join(REPO_ROOT, 'src/demo/runStack.ts')],
    });
    const { code } = await child.exited;
    assert.equal(code, 1);
    assert.ok(child.stderr().includes(STACK_INSTALL_HINT), child.stderr());
  });
});

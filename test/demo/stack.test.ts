import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
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
    const binaries = findStackBinaries();
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
      assert.match(stack.banner, /alerts in Prometheus +http:\/\/127\.0\.0\.1:\d+\/alerts/);
      assert.match(stack.banner, /Alertmanager +http:\/\/127\.0\.0\.1:\d+\/#\/alerts/);
      const { prometheusUrl, alertmanagerUrl } = stack;
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

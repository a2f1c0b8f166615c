import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { parse, stringify } from 'yaml';
import type { Env } from '../core/env.js';
import { type RunningDemo, startDemo, wrap } from './demo.js';

export const STACK_INSTALL_HINT = 'sudo apt-get install -y prometheus prometheus-alertmanager';

export interface StackOptions {
  /** The repository root: where alerts/ and examples/ are read. */
  root: string;
  /** Where configs and Prometheus/Alertmanager data go (wiped state is fine). */
  workDir: string;
  env: Env;
  log: Logger;
  /** FORCE_POLL_TOKEN as the operator set it; the demo makes one up when it is unset. */
  operatorToken?: string;
  /**
   * Every alert's `for` is cut to this many seconds so that alerts fire while someone watches;
   * undefined keeps the shipped durations.
   */
  forSeconds?: number;
  scrapeIntervalSeconds?: number;
  evaluationIntervalSeconds?: number;
  /** Preferred ports; a busy one is replaced by a free one. */
  ports?: { exporter?: number; prometheus?: number; alertmanager?: number };
}

export interface RunningStack {
  demo: RunningDemo;
  prometheusUrl: string;
  alertmanagerUrl: string;
  banner: string;
  /** Resolves when Prometheus or Alertmanager exits on its own. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

export interface StackBinaries {
  prometheus: string;
  alertmanager: string;
}

/** Debian names Alertmanager `prometheus-alertmanager`; upstream tarballs call it `alertmanager`. */
export function findStackBinaries(path: string): StackBinaries | undefined {
  const which = (name: string) =>
    path
      .split(delimiter)
      .filter(Boolean)
      .map((directory) => join(directory, name))
      .find((candidate) => {
        try {
          accessSync(candidate, constants.X_OK);
          return true;
        } catch {
          return false;
        }
      });
  const prometheus = which('prometheus');
  const alertmanager = which('prometheus-alertmanager') ?? which('alertmanager');
  return prometheus && alertmanager ? { prometheus, alertmanager } : undefined;
}

const RULES_FILE = 'alerts/surface-exporter.rules.yml';
/** Launches of Prometheus and Alertmanager before a port lost to another process is an error. */
const BIND_ATTEMPTS = 3;
const JOB = 'surface-exporter';
const READY_TIMEOUT_MS = 30_000;

/**
 * The demo with a real Prometheus and Alertmanager on loopback: Prometheus scrapes the demo and
 * evaluates the shipped rules, Alertmanager receives what fires. Notifications are not sent anywhere.
 */
export async function startStack(binaries: StackBinaries, options: StackOptions): Promise<RunningStack> {
  const workDir = resolve(options.workDir);
  await mkdir(join(workDir, 'prometheus-data'), { recursive: true });
  await mkdir(join(workDir, 'alertmanager-data'), { recursive: true });
  const ports = {
    exporter: await freePort(options.ports?.exporter ?? 0),
    prometheus: await freePort(options.ports?.prometheus ?? 0),
    alertmanager: await freePort(options.ports?.alertmanager ?? 0),
  };
  const demo = await startDemo({
    env: options.env,
    log: options.log,
    listen: { host: '127.0.0.1', port: ports.exporter },
    pollerEnabled: true,
    operatorToken: options.operatorToken,
  });
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    await demo.stop();
  };
  try {
    const rulesFile = join(workDir, 'surface-exporter.rules.yml');
    const rules = await writeRules(join(options.root, RULES_FILE), rulesFile, options.forSeconds);
    const alertmanagerConfig = join(workDir, 'alertmanager.yml');
    await writeFile(alertmanagerConfig, stringify(await alertmanagerYaml(options.root)));

    let exited: Promise<string>;
    for (let attempt = 1; ; attempt++) {
      const prometheusConfig = join(workDir, 'prometheus.yml');
      await writeFile(
        prometheusConfig,
        stringify(
          await prometheusYaml(options, {
            exporter: new URL(demo.exporter.url).host,
            alertmanager: `127.0.0.1:${ports.alertmanager}`,
            rulesFile,
          }),
        ),
      );
      const alertmanager = launch(binaries.alertmanager, [
        `--config.file=${alertmanagerConfig}`,
        `--storage.path=${join(workDir, 'alertmanager-data')}`,
        `--web.listen-address=127.0.0.1:${ports.alertmanager}`,
        // No gossip: a single local instance must not open a cluster port on every interface.
        '--cluster.listen-address=',
      ]);
      const prometheus = launch(binaries.prometheus, [
        `--config.file=${prometheusConfig}`,
        `--storage.tsdb.path=${join(workDir, 'prometheus-data')}`,
        `--web.listen-address=127.0.0.1:${ports.prometheus}`,
        // Keeps the exemplars that link each latency point to its probe's trace.
        '--enable-feature=exemplar-storage',
      ]);
      children.push(alertmanager.child, prometheus.child);
      exited = Promise.race([
        alertmanager.exited.then((code) => `alertmanager exited (${code}): ${alertmanager.stderrTail()}`),
        prometheus.exited.then((code) => `prometheus exited (${code}): ${prometheus.stderrTail()}`),
      ]);
      const ready = Promise.all([
        waitReady(`http://127.0.0.1:${ports.alertmanager}/-/ready`),
        waitReady(`http://127.0.0.1:${ports.prometheus}/-/ready`),
      ]);
      const outcome = await Promise.race([ready.then(() => undefined), exited]);
      if (outcome === undefined) break;
      await Promise.all(children.splice(0).map(stopChild));
      // A free port can be taken by another process before the child binds it: try fresh ones.
      if (!outcome.includes('address already in use') || attempt === BIND_ATTEMPTS) throw new Error(outcome);
      ports.prometheus = await freePort(0);
      ports.alertmanager = await freePort(0);
    }
    const prometheusUrl = `http://127.0.0.1:${ports.prometheus}`;
    const alertmanagerUrl = `http://127.0.0.1:${ports.alertmanager}`;
    return {
      demo,
      prometheusUrl,
      alertmanagerUrl,
      exited,
      stop,
      banner: `${demo.banner}${stackBanner({
        prometheusUrl,
        alertmanagerUrl,
        prometheusPages: await prometheusPagePrefix(prometheusUrl),
        rules,
        forSeconds: options.forSeconds,
        workDir,
      })}`,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface StackRule {
  alert: string;
  /** The shipped `for`, e.g. `5m`; undefined when the rule has none. */
  shippedFor?: string;
  /** For a rule without `for`: the seconds its expression waits for, when it compares an age. */
  thresholdSeconds?: number;
}

/**
 * Copies the shipped rules, cutting every `for` when asked. A cut rule's description would still
 * say "for 5 minutes", so that phrase is rewritten to the cut duration.
 */
async function writeRules(
  source: string,
  target: string,
  forSeconds: number | undefined,
): Promise<StackRule[]> {
  const text = await readFile(source, 'utf8');
  const document = parse(text) as { groups?: Array<{ rules?: Array<Record<string, unknown>> }> };
  const rules: StackRule[] = [];
  for (const group of document.groups ?? []) {
    for (const rule of group.rules ?? []) {
      if (typeof rule.alert !== 'string') continue;
      const shippedFor = typeof rule.for === 'string' ? rule.for : undefined;
      const threshold = /\)\s*>\s*(\d+)\)?\s*$/m.exec(String(rule.expr ?? ''));
      rules.push({
        alert: rule.alert,
        shippedFor,
        thresholdSeconds: shippedFor === undefined && threshold ? Number(threshold[1]) : undefined,
      });
      if (forSeconds === undefined || shippedFor === undefined) continue;
      rule.for = `${forSeconds}s`;
      const annotations = rule.annotations as Record<string, string> | undefined;
      if (annotations?.description) {
        annotations.description = rewordDuration(annotations.description, shippedFor, forSeconds);
      }
    }
  }
  await writeFile(target, forSeconds === undefined ? text : stringify(document, { lineWidth: 0 }));
  return rules;
}

/** `5m` as the descriptions write it: `5 minutes`. */
export function humanDuration(duration: string): string {
  const match = /^(\d+)([smh])$/.exec(duration);
  if (!match) return duration;
  const count = Number(match[1]);
  const unit = { s: 'second', m: 'minute', h: 'hour' }[match[2] as 's' | 'm' | 'h'];
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

function rewordDuration(description: string, shippedFor: string, forSeconds: number): string {
  const shipped = humanDuration(shippedFor);
  return description.replace(
    new RegExp(`\\b(for|throughout(?: the last)?) ${shipped}\\b`, 'g'),
    `$1 ${forSeconds} s (npm run stack cut the shipped ${shipped})`,
  );
}

/** Debian's Prometheus 2.x is built without the React UI and serves its pages under /classic only. */
async function prometheusPagePrefix(prometheusUrl: string): Promise<string> {
  try {
    const res = await fetch(`${prometheusUrl}/classic/alerts`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok ? '/classic' : '';
  } catch {
    return '';
  }
}

function stackBanner(stack: {
  prometheusUrl: string;
  alertmanagerUrl: string;
  prometheusPages: string;
  rules: StackRule[];
  forSeconds: number | undefined;
  workDir: string;
}): string {
  const { prometheusUrl, alertmanagerUrl, prometheusPages } = stack;
  const waiting = stack.rules.filter(
    (rule) => rule.thresholdSeconds !== undefined && rule.thresholdSeconds >= 300,
  );
  const timing =
    stack.forSeconds === undefined
      ? 'The shipped `for:` durations are kept (--keep-for): most alerts take 2 to 15 minutes to fire.'
      : `Every \`for:\` is cut to ${stack.forSeconds} s (instead of the shipped 2 to 15 minutes; the descriptions give the cut duration), so most alerts fire within a minute.`;
  const slow = waiting.map(
    (rule) =>
      `${rule.alert} has no \`for:\` to cut: its expression waits ${humanDuration(`${Math.round((rule.thresholdSeconds ?? 0) / 60)}m`)}, so it fires about that long after the demo starts.`,
  );
  return `Prometheus and Alertmanager run against it with ${RULES_FILE}.
${wrap([timing, ...slow].join(' '))}

  alerts in Prometheus    ${prometheusUrl}${prometheusPages}/alerts
  rules                   ${prometheusUrl}${prometheusPages}/rules
  targets                 ${prometheusUrl}${prometheusPages}/targets
  alerts (API)            ${prometheusUrl}/api/v1/alerts
  Alertmanager (API)      ${alertmanagerUrl}/api/v2/alerts
  Alertmanager (amtool)   amtool --alertmanager.url=${alertmanagerUrl} alert query

State and generated configs: ${stack.workDir}
`;
}

interface StackAddresses {
  exporter: string;
  alertmanager: string;
  rulesFile: string;
}

/**
 * examples/prometheus.yml, pointed at the demo: its surface-exporter job keeps its relabelling but
 * scrapes the demo's address, and rules and alerting point at this stack.
 */
async function prometheusYaml(
  options: StackOptions,
  addresses: StackAddresses,
): Promise<Record<string, unknown>> {
  const example = await readYaml(join(options.root, 'examples/prometheus.yml'));
  const scrape = `${options.scrapeIntervalSeconds ?? 5}s`;
  const jobs = Array.isArray(example.scrape_configs)
    ? (example.scrape_configs as Array<Record<string, unknown>>)
    : [];
  const shipped = jobs.find((job) => job.job_name === JOB) ?? {};
  const job: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(shipped)) {
    // Discovery, TLS and credentials belong to a real deployment; the demo is plain HTTP on loopback.
    if (
      key.endsWith('_sd_configs') ||
      ['static_configs', 'tls_config', 'authorization', 'basic_auth'].includes(key)
    )
      continue;
    job[key] = value;
  }
  Object.assign(job, {
    job_name: JOB,
    scheme: 'http',
    scrape_interval: scrape,
    scrape_timeout: scrape,
    static_configs: [{ targets: [addresses.exporter] }],
  });
  return {
    ...example,
    global: {
      ...(example.global as Record<string, unknown> | undefined),
      scrape_interval: scrape,
      evaluation_interval: `${options.evaluationIntervalSeconds ?? 5}s`,
    },
    rule_files: [addresses.rulesFile],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [addresses.alertmanager] }] }] },
    scrape_configs: [job],
  };
}

/**
 * examples/alertmanager.yml with its routing tree kept and its receivers emptied: the demo's alerts
 * show in the UI but page nobody, and placeholder webhook URLs cannot stop it from starting.
 */
async function alertmanagerYaml(root: string): Promise<Record<string, unknown>> {
  const example = await readYaml(join(root, 'examples/alertmanager.yml'));
  const receivers = Array.isArray(example.receivers)
    ? (example.receivers as Array<{ name?: string }>).map((receiver) => ({ name: receiver.name }))
    : [{ name: 'demo' }];
  const route = (example.route as Record<string, unknown> | undefined) ?? { receiver: receivers[0]?.name };
  return {
    route: { ...route, group_wait: '5s', group_interval: '10s' },
    receivers,
    ...(example.inhibit_rules ? { inhibit_rules: example.inhibit_rules } : {}),
  };
}

async function readYaml(file: string): Promise<Record<string, unknown>> {
  if (!existsSync(file)) return {};
  return (parse(await readFile(file, 'utf8')) as Record<string, unknown> | null) ?? {};
}

function launch(binary: string, args: string[]) {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = `${stderr}${String(chunk)}`.slice(-4000);
  });
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('exit', (code) => resolveExit(code));
    child.once('error', () => resolveExit(null));
  });
  return { child, exited, stderrTail: () => stderr.trim().split('\n').slice(-5).join('\n') };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.kill('SIGTERM');
  const killed = sleep(10_000, 'timeout' as const, { ref: false });
  if ((await Promise.race([exited.then(() => 'exited' as const), killed])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready within ${READY_TIMEOUT_MS / 1000} s`);
}

/** The preferred port when it is free on loopback, else any free one. */
async function freePort(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolvePort) => {
      const server = createServer();
      server.once('error', () => resolvePort(undefined));
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        const bound = typeof address === 'object' && address ? address.port : undefined;
        server.close(() => resolvePort(bound));
      });
    });
  return (preferred ? await tryListen(preferred) : undefined) ?? (await tryListen(0)) ?? 0;
}

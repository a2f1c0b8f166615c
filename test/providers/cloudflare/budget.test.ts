import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { owningShard } from '../../../src/app/sharding.js';
import { parseRegistry } from '../../../src/config/load.js';
import type { Clock } from '../../../src/core/clock.js';
import { Deadline } from '../../../src/core/deadline.js';
import { CredentialWatch, type Timers } from '../../../src/providers/cloudflare/access/watch.js';
import {
  CLOUDFLARE_WINDOW_CALLS,
  CLOUDFLARE_WINDOW_MS,
  CloudflareBudget,
  cloudflareBudget,
} from '../../../src/providers/cloudflare/budget.js';
import { type CloudflareFake, startCloudflareApi } from '../../../src/providers/cloudflare/fake.js';
import { providerFor } from '../../../src/providers/index.js';
import { PLANNED_FRACTION_OF_SHARE } from '../../../src/providers/shared/budget.js';
import { captureLogs, startTestExporter, type TestExporter, waitFor } from '../../helpers/support.js';

const MGMT = 'mgmt-token-budget-0123456789abcdefABCDEF';
const TOKEN_COUNT = 10;
const tokenOf = (index: number) => `pages-token-${index}-0123456789abcdefABCDEF`;
const START = Date.parse('2026-12-01T09:00:00Z');
// The poll interval, and the simulation's step: every surface is probed once a step.
const STEP_MS = 10_000;
const WINDOW_STEPS = CLOUDFLARE_WINDOW_MS / STEP_MS;

/** Timers on the simulated clock: the test fires what is due at each step. */
function simulatedTimers(now: () => number): Timers & { due(): Array<() => void>; armedMs: number[] } {
  const pending = new Map<object, { at: number; callback: () => void }>();
  const armedMs: number[] = [];
  return {
    armedMs,
    setTimeout: (callback, ms) => {
      const handle = {};
      armedMs.push(ms);
      pending.set(handle, { at: now() + ms, callback });
      return handle;
    },
    clearTimeout: (handle) => {
      pending.delete(handle as object);
    },
    due: () => {
      const due = [...pending].filter(([, timer]) => timer.at <= now());
      for (const [handle] of due) pending.delete(handle);
      return due.map(([, timer]) => timer.callback);
    },
  };
}

interface Simulation {
  /** Calls the fake saw in each step, split by who made them. */
  pagesCalls: number[];
  watchCalls: number[];
  exporter: TestExporter;
  timers: ReturnType<typeof simulatedTimers>;
  /** The exporter's and the watch's log lines. */
  logs: Array<Record<string, unknown>>;
}

describe('one Cloudflare budget for the Pages probes and the credential watch', () => {
  let cloudflare: CloudflareFake;

  before(async () => {
    cloudflare = await startCloudflareApi({
      tokens: [MGMT, ...Array.from({ length: TOKEN_COUNT }, (_, index) => tokenOf(index))],
    });
  });
  after(() => cloudflare.close());

  /**
   * Shard 0 of `total`'s exporter on `clock`, with `projects` Pages surfaces it owns spread over
   * `tokens` watched token variables. `name` keeps the projects of each test apart in the shared fake.
   */
  async function shardExporter(options: {
    clock: Clock;
    total: number;
    projects: number;
    tokens?: number;
    name: string;
    deployment: { stage: 'deploy' | 'build'; status: 'success' | 'active' };
  }) {
    const tokens = options.tokens ?? TOKEN_COUNT;
    const env: Record<string, string> = {
      CLOUDFLARE_API_URL: cloudflare.url,
      CLOUDFLARE_ACCOUNT_ID: cloudflare.accountId,
      CLOUDFLARE_ACCESS_MGMT_TOKEN: MGMT,
    };
    const surfaces: Array<Record<string, string>> = [];
    for (let index = 0; surfaces.length < options.projects; index++) {
      const name = `${options.name}-${options.total}-${options.projects}-${index}`;
      if (owningShard('prod', name, options.total) !== 0) continue;
      cloudflare.addProject(name);
      cloudflare.addDeployment(name, options.deployment);
      const token = surfaces.length % tokens;
      env[`PAGES_TOKEN_${token}`] = tokenOf(token);
      surfaces.push({ name, provider: 'cloudflare_pages', project: name, token_env: `PAGES_TOKEN_${token}` });
    }
    const registry = {
      poller: { interval_seconds: STEP_MS / 1000, timeout_seconds: 5, metadata_ttl_seconds: 60 },
      lifecycle: { interval_seconds: 60 },
      environments: { prod: surfaces },
    };
    const exporter = await startTestExporter({
      registry,
      pollerEnabled: false,
      env,
      clock: options.clock,
      shard: { ordinal: 0, total: options.total },
    });
    const probeAll = () =>
      Promise.all(surfaces.map((surface) => exporter.poller.probeOnce(`prod/${surface.name}`)));
    return { exporter, env, registry, total: options.total, probeAll };
  }

  /**
   * A credential watch of the shard's tokens on simulated timers. The exporter's own watch runs on
   * the node timers; this one, given the exporter's cache and share as app/exporter.ts gives them,
   * runs on the simulated clock.
   */
  function shardWatch(
    shard: Awaited<ReturnType<typeof shardExporter>>,
    clock: Clock,
    timers: ReturnType<typeof simulatedTimers>,
    log: ReturnType<typeof captureLogs>['log'],
  ): CredentialWatch {
    return new CredentialWatch(parseRegistry(stringify(shard.registry), 'budget.yaml'), {
      env: shard.env,
      log,
      sink: shard.exporter.metrics.credentials,
      onlineOf: (config) => providerFor(config).online,
      send: (req) => shard.exporter.http.send({ ...req, deadline: new Deadline(5000) }),
      now: clock.now,
      timers,
      plans: shard.exporter.poller.plans,
      budgetShare: 1 / shard.total,
    });
  }

  /**
   * Starts shard 0 of `total` with `projects` Pages surfaces it owns (spread over `tokens` token
   * variables, each watched), starts a credential watch on the exporter's cache and share, then
   * probes every surface each 10 s step of simulated time for `minutes`.
   */
  async function simulate(options: {
    total: number;
    projects: number;
    tokens: number;
    minutes: number;
  }): Promise<Simulation> {
    let offsetMs = 0;
    const clock: Clock = { now: () => START + offsetMs, monotonic: () => offsetMs };
    const shard = await shardExporter({
      clock,
      ...options,
      name: 'site',
      deployment: { stage: 'deploy', status: 'success' },
    });
    const { exporter } = shard;
    const timers = simulatedTimers(clock.now);
    const watchLog = captureLogs('info');
    const watch = shardWatch(shard, clock, timers, watchLog.log);
    const pagesPath = `/accounts/${cloudflare.accountId}/pages/`;
    const pagesCalls: number[] = [];
    const watchCalls: number[] = [];
    const roundDone = async (armedBefore: number) =>
      waitFor(() => timers.armedMs.length > armedBefore, { what: 'the watch to schedule its next read' });
    try {
      for (let step = 0; step * STEP_MS <= options.minutes * 60_000; step++) {
        offsetMs = step * STEP_MS;
        // The fake's own window runs on the wall clock, which this test outpaces: keep it full.
        cloudflare.setRateLimitRemaining(CLOUDFLARE_WINDOW_CALLS);
        cloudflare.resetCalls();
        if (step === 0) {
          const armed = timers.armedMs.length;
          watch.start();
          await roundDone(armed);
        }
        for (const due of timers.due()) {
          const armed = timers.armedMs.length;
          due();
          await roundDone(armed);
        }
        await shard.probeAll();
        const pages = cloudflare.callsUnder(pagesPath);
        pagesCalls.push(pages);
        watchCalls.push(cloudflare.calls() - pages);
      }
    } catch (err) {
      await exporter.stop();
      throw err;
    } finally {
      watch.stop();
    }
    return {
      pagesCalls,
      watchCalls,
      exporter,
      timers,
      logs: [...exporter.logs.lines(), ...watchLog.capture.lines()],
    };
  }

  /** The most calls in any 5-minute window that starts at or after `fromStep`. */
  const worstWindow = (simulation: Simulation, fromStep: number) => {
    const calls = simulation.pagesCalls.map((pages, step) => pages + (simulation.watchCalls[step] ?? 0));
    let worst = 0;
    for (let first = fromStep; first + WINDOW_STEPS <= calls.length; first++)
      worst = Math.max(
        worst,
        calls.slice(first, first + WINDOW_STEPS).reduce((sum, n) => sum + n, 0),
      );
    return worst;
  };
  const planLines = (simulation: Simulation) =>
    simulation.logs.filter((line) => line.event === 'cloudflare_budget_plan');

  it('one shard of three with 70 projects on 10 watched tokens stays within 80 % of 1,200 / 3 per 5 minutes', async (t) => {
    const simulation = await simulate({ total: 3, projects: 70, tokens: TOKEN_COUNT, minutes: 25 });
    t.after(() => simulation.exporter.stop());
    const limit = (CLOUDFLARE_WINDOW_CALLS * PLANNED_FRACTION_OF_SHARE) / 3;
    // As configured (a 60 s TTL, a read of 11 tokens every 60 s) the shard would spend
    // 70 x 5 + 11 x 5 = 405 calls per 5 minutes.
    assert.equal(
      simulation.watchCalls[0],
      TOKEN_COUNT + 1,
      'a round verifies every token and the management token',
    );
    // The first five minutes hold the round that reads every project once, before any plan.
    const worst = worstWindow(simulation, WINDOW_STEPS);
    assert.ok(worst <= limit, `${worst} calls in a 5-minute window, more than ${limit}`);
    assert.ok(
      worst >= limit * 0.75,
      `${worst} calls in the worst 5-minute window: the plan wastes the share`,
    );
    // The watch gave way first, up to an hour. Its first round, at the start, came before any
    // project was known; when its minute was up the plan had grown, so it waited the rest of the hour.
    assert.deepEqual(simulation.timers.armedMs, [60_000, 3_540_000]);
    assert.equal(
      simulation.watchCalls.slice(1).reduce((sum, n) => sum + n, 0),
      0,
    );
    const last = planLines(simulation).at(-1);
    assert.ok(last, 'the lengthened plan is logged');
    assert.equal(last.watch_interval_seconds, 3600);
    assert.equal(last.budget_share, 1 / 3);
    const logged = JSON.stringify(simulation.logs);
    for (const secret of [MGMT, ...Array.from({ length: TOKEN_COUNT }, (_, index) => tokenOf(index))])
      assert.ok(!logged.includes(secret), 'no token value in any log line');
    // 70 calls per refresh in the 320 left beside the watch's 11 an hour: 70 x 300 / (320 - 11/12) = 66 s.
    assert.equal(last.pages_ttl_seconds, 66);
    assert.match(
      String(last.msg),
      /^Cloudflare refresh lengthened to 66 s \(metadata_ttl_seconds: 60 s\) and credential watch lengthened to 3600 s \(lifecycle.interval_seconds: 60 s\) to fit 1\/3 of the budget: 320 calls per 5 minutes/,
    );
  });

  it('the watch gives way first: when lengthening it suffices, the Pages refresh stays as configured', async (t) => {
    // 60 projects spend 300 of the 320; the watch's 11 calls get the other 20, room for one round
    // in each 5-minute window: every 300 s.
    const simulation = await simulate({ total: 3, projects: 60, tokens: TOKEN_COUNT, minutes: 10 });
    t.after(() => simulation.exporter.stop());
    for (const [step, pages] of simulation.pagesCalls.entries())
      assert.equal(pages, step % 6 === 0 ? 60 : 0, `Pages calls at step ${step}`);
    const last = planLines(simulation).at(-1);
    assert.equal(last?.pages_ttl_seconds, 60);
    assert.equal(last?.watch_interval_seconds, 300);
    assert.ok(worstWindow(simulation, 0) <= 320, `${worstWindow(simulation, 0)} calls in a 5-minute window`);
  });

  it('alone, with few projects and tokens, nothing is lengthened', async (t) => {
    const simulation = await simulate({ total: 1, projects: 5, tokens: 2, minutes: 10 });
    t.after(() => simulation.exporter.stop());
    // Every project refreshed each configured 60 s, each token read each configured 60 s.
    for (const [step, pages] of simulation.pagesCalls.entries())
      assert.equal(pages, step % 6 === 0 ? 5 : 0, `Pages calls at step ${step}`);
    assert.ok(
      simulation.timers.armedMs.every((ms) => ms === 60_000),
      `${simulation.timers.armedMs}`,
    );
    assert.equal(simulation.timers.armedMs.length, 11);
    assert.equal(worstWindow(simulation, 0), 5 * 5 + 3 * 5);
    assert.deepEqual(planLines(simulation), []);
  });

  it('after a year of uptime the Pages probes and the watch still plan one budget', async (t) => {
    let offsetMs = 0;
    const clock: Clock = { now: () => START + offsetMs, monotonic: () => offsetMs };
    // As in the test above: 60 projects leave the watch room for one round every 300 s.
    const shard = await shardExporter({
      clock,
      total: 3,
      projects: 60,
      name: 'deploy',
      deployment: { stage: 'deploy', status: 'success' },
    });
    t.after(() => shard.exporter.stop());
    const timers = simulatedTimers(clock.now);
    const watch = shardWatch(shard, clock, timers, captureLogs('info').log);
    t.after(() => watch.stop());
    cloudflare.setRateLimitRemaining(CLOUDFLARE_WINDOW_CALLS);
    watch.start();
    await waitFor(() => timers.armedMs.length === 1, { what: 'the first watch round' });
    // A year and a day later (past any long TTL an entry of the poller's cache could have had),
    // the projects are refreshed, then the watch's timer fires: it must see them in its plan.
    offsetMs = 366 * 24 * 3_600_000;
    cloudflare.setRateLimitRemaining(CLOUDFLARE_WINDOW_CALLS);
    await shard.probeAll();
    for (const due of timers.due()) due();
    await waitFor(() => timers.armedMs.length === 2, { what: 'the watch to defer its read' });
    assert.deepEqual(timers.armedMs, [60_000, 240_000]);
  });

  it('a deployment still building is re-read every poll without being planned (nor logged as a plan)', async (t) => {
    let offsetMs = 0;
    const clock: Clock = { now: () => START + offsetMs, monotonic: () => offsetMs };
    // 1/10 of the plan is 96 calls per 5 minutes, 19 a minute: 25 projects planned at the 60 s TTL
    // would lengthen it.
    const shard = await shardExporter({
      clock,
      total: 10,
      projects: 25,
      name: 'build',
      deployment: { stage: 'build', status: 'active' },
    });
    t.after(() => shard.exporter.stop());
    for (let step = 0; step < 3; step++) {
      offsetMs = step * STEP_MS;
      cloudflare.setRateLimitRemaining(CLOUDFLARE_WINDOW_CALLS);
      cloudflare.resetCalls();
      const results = await shard.probeAll();
      assert.ok(results.every((result) => result.code === 'deploy_building'));
      assert.equal(cloudflare.calls(), 25, `every building project read again at step ${step}`);
    }
    const planned = cloudflareBudget(shard.exporter.poller.plans, 1 / 10).plan().pagesTtlMs;
    assert.ok(planned <= 60_000, `the Pages refresh lengthened to ${planned} ms`);
    assert.deepEqual(
      shard.exporter.logs.lines().filter((line) => line.event === 'cloudflare_budget_plan'),
      [],
    );
  });
});

describe('the Cloudflare plan log', () => {
  it('a plan flipping between lengthened and not is logged at most once per 5-minute window, the first at once', () => {
    const { log, capture } = captureLogs('info');
    const budget = new CloudflareBudget(1);
    const planLines = () => capture.lines().filter((line) => line.event === 'cloudflare_budget_plan');
    // At a 60 s TTL the whole plan (960 calls per 5 minutes) holds 192 calls a refresh: 200 is
    // lengthened, 100 is not, and the one project flips between them every refresh.
    const loggedAtMs: number[] = [];
    for (let minute = 0; minute <= 10; minute++) {
      const before = planLines().length;
      budget.pagesRefreshed('project', {
        calls: minute % 2 === 0 ? 200 : 100,
        configuredTtlMs: 60_000,
        atMonotonic: minute * 60_000,
        log,
      });
      if (planLines().length > before) loggedAtMs.push(minute * 60_000);
    }
    assert.deepEqual(loggedAtMs, [0, 300_000, 600_000]);
    assert.deepEqual(
      planLines().map((line) => line.pages_ttl_seconds),
      [63, 60, 63],
    );
  });
});

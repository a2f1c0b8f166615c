import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  owningShard,
  parseShardSettings,
  type ShardFlags,
  ShardSettingsError,
  SINGLE_SHARD,
} from '../../src/app/sharding.js';
import { EXIT_USAGE } from '../../src/cli/args.js';
import type { Clock } from '../../src/core/clock.js';
import { cloudflareBudget } from '../../src/providers/cloudflare/budget.js';
import { type CloudflareFake, startCloudflareApi } from '../../src/providers/cloudflare/fake.js';
import { type HerokuFake, startHerokuApi } from '../../src/providers/heroku_app/fake.js';
import { cli, tempDir } from '../cli/support.js';
import {
  type LocalTarget,
  parseSamples,
  sampleKey,
  scrape,
  startTarget,
  startTestExporter,
  type TestExporter,
  waitFor,
} from '../helpers/support.js';

describe('shard settings', () => {
  const valid: Array<[ShardFlags, Record<string, string>, { ordinal: number; total: number }]> = [
    [{}, {}, SINGLE_SHARD],
    [{ totalShards: '1' }, {}, SINGLE_SHARD],
    [{ shard: '2', totalShards: '3' }, {}, { ordinal: 2, total: 3 }],
    [{}, { SURFACE_SHARD: '0', SURFACE_TOTAL_SHARDS: '4' }, { ordinal: 0, total: 4 }],
    // A flag wins over its variable: one manifest sets the total, each pod its own shard.
    [{ shard: '1' }, { SURFACE_SHARD: '3', SURFACE_TOTAL_SHARDS: '4' }, { ordinal: 1, total: 4 }],
    [{ pod: 'surface-exporter-2', totalShards: '3' }, {}, { ordinal: 2, total: 3 }],
    [{ pod: 'surface-exporter-b-0' }, { SURFACE_TOTAL_SHARDS: '2' }, { ordinal: 0, total: 2 }],
  ];
  for (const [flags, env, expected] of valid) {
    it(`accepts ${JSON.stringify(flags)} ${JSON.stringify(env)}`, () => {
      assert.deepEqual(parseShardSettings(flags, env), expected);
    });
  }

  const invalid: Array<[ShardFlags, Record<string, string>, string]> = [
    [
      { shard: '3', totalShards: '3' },
      {},
      '--shard 3 is not below the total of 3 shards: shards are numbered 0 to 2',
    ],
    [{ shard: '0', totalShards: '0' }, {}, '--total-shards: the total must be at least 1 (got 0)'],
    [
      {},
      { SURFACE_SHARD: '1', SURFACE_TOTAL_SHARDS: '-2' },
      'SURFACE_TOTAL_SHARDS: expected a whole number ≥ 0 (got "-2")',
    ],
    [{ shard: 'one', totalShards: '2' }, {}, '--shard: expected a whole number ≥ 0 (got "one")'],
    [{ shard: '01', totalShards: '2' }, {}, '--shard: expected a whole number ≥ 0 (got "01")'],
    [{ shard: '1' }, {}, '--shard 1 needs --total-shards N (or SURFACE_TOTAL_SHARDS)'],
    [
      {},
      { SURFACE_TOTAL_SHARDS: '3' },
      'SURFACE_TOTAL_SHARDS is 3 but no shard is given: pass --shard K (or SURFACE_SHARD, or --pod NAME)',
    ],
    [
      { pod: 'surface-exporter', totalShards: '3' },
      {},
      '--pod: "surface-exporter" has no trailing ordinal (expected a StatefulSet pod name such as surface-exporter-2)',
    ],
    [
      { pod: 'surface-exporter-7', totalShards: '3' },
      {},
      '--pod surface-exporter-7 is not below the total of 3 shards: shards are numbered 0 to 2',
    ],
    [
      { pod: 'surface-exporter-1', shard: '1', totalShards: '3' },
      {},
      '--pod and --shard exclude each other: the pod name already gives the shard',
    ],
  ];
  for (const [flags, env, message] of invalid) {
    it(`refuses ${JSON.stringify(flags)} ${JSON.stringify(env)}`, () => {
      assert.throws(
        () => parseShardSettings(flags, env),
        (err: unknown) => {
          assert.ok(err instanceof ShardSettingsError);
          assert.equal(err.message, message);
          return true;
        },
      );
    });
  }

  it('stops `serve` before it starts, with the message and the usage exit code', async (t) => {
    const dir = await tempDir();
    t.after(() => dir.remove());
    const file = await dir.file('surfaces.yaml', {
      environments: { prod: [{ name: 'site', provider: 'http', url: 'http://127.0.0.1:9/' }] },
    });
    const run = await cli(['serve', '--config', file, '--shard', '3', '--total-shards', '3']);
    assert.equal(run.code, EXIT_USAGE);
    assert.match(run.stderr, /--shard 3 is not below the total of 3 shards/);
    const pod = await cli(['serve', '--config', file, '--pod', 'exporter'], { SURFACE_TOTAL_SHARDS: '2' });
    assert.equal(pod.code, EXIT_USAGE);
    assert.match(pod.stderr, /--pod: "exporter" has no trailing ordinal/);
  });
});

describe('rendezvous assignment', () => {
  const keys = Array.from({ length: 3000 }, (_, index) => [`env${index % 3}`, `surface-${index}`] as const);

  it('spreads surfaces evenly over the shards', () => {
    const counts = [0, 0, 0];
    for (const [env, surface] of keys)
      counts[owningShard(env, surface, 3)] = (counts[owningShard(env, surface, 3)] ?? 0) + 1;
    for (const count of counts) assert.ok(count > 900 && count < 1100, `shard sizes ${counts}`);
  });

  it('from N to N+1 shards moves only surfaces the new shard wins, about 1/(N+1) of them', () => {
    for (const total of [1, 2, 3, 5, 8]) {
      let moved = 0;
      for (const [env, surface] of keys) {
        const before = owningShard(env, surface, total);
        const afterwards = owningShard(env, surface, total + 1);
        if (before !== afterwards) {
          moved++;
          assert.equal(afterwards, total, `${env}/${surface} moved between old shards`);
        }
      }
      const share = moved / keys.length;
      assert.ok(Math.abs(share - 1 / (total + 1)) < 0.04, `${total}→${total + 1}: ${share} moved`);
    }
  });

  it('is a function of env/surface and the total only, and always a valid ordinal', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.integer({ min: 1, max: 64 }), (env, surface, total) => {
        const owner = owningShard(env, surface, total);
        return owner >= 0 && owner < total && owner === owningShard(env, surface, total);
      }),
    );
  });
});

describe('a shard of the exporter', () => {
  let target: LocalTarget;
  let shards: TestExporter[];
  const TOTAL = 3;
  const names = Array.from({ length: 12 }, (_, index) => `site-${index}`);
  const FORCE_POLL_TOKEN = 'shard-test-operator-token';

  before(async () => {
    target = await startTarget((_req, res) => res.end('ok'));
    const registry = {
      poller: { interval_seconds: 60, timeout_seconds: 2 },
      environments: { prod: names.map((name) => ({ name, provider: 'http', url: `${target.url}/${name}` })) },
    };
    shards = await Promise.all(
      Array.from({ length: TOTAL }, (_, ordinal) =>
        startTestExporter({
          registry,
          pollerEnabled: false,
          env: { FORCE_POLL_TOKEN },
          shard: { ordinal, total: TOTAL },
        }),
      ),
    );
  });

  after(async () => {
    await Promise.all(shards.map((shard) => shard.stop()));
    await target.close();
  });

  const ownerOf = (name: string) => owningShard('prod', name, TOTAL);
  const forcePoll = (shard: TestExporter, surface?: string) =>
    fetch(`${shard.url}/api/force-poll${surface ? `?env=prod&surface=${surface}` : ''}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${FORCE_POLL_TOKEN}` },
    });

  it('probes, lists and exports only the surfaces it owns', async () => {
    for (const [ordinal, shard] of shards.entries()) {
      const owned = names.filter((name) => ownerOf(name) === ordinal).sort();
      assert.ok(owned.length > 0, `shard ${ordinal} owns nothing: pick other names`);
      const status = shard.poller.status();
      assert.deepEqual(status.surfaces.map((surface) => surface.surface).sort(), owned);

      const before = target.requests.length;
      const res = await forcePoll(shard);
      assert.equal(res.status, 200);
      const paths = target.requests.slice(before).map((req) => req.url?.slice(1));
      assert.deepEqual([...paths].sort(), owned, 'a force-poll of everything probes only its own surfaces');

      const samples = parseSamples((await scrape(shard)).text);
      const exported = [...samples.keys()]
        .filter((key) => key.startsWith('surface_up{'))
        .map((key) => /surface="([^"]+)"/.exec(key)?.[1])
        .sort();
      assert.deepEqual(exported, owned);
      assert.equal(
        samples.get(sampleKey('surface_exporter_shard_ordinal', { shard_ordinal: String(ordinal) })),
        1,
      );
      assert.equal(samples.get('surface_exporter_total_shards'), TOTAL);
    }
  });

  it('answers a force-poll of a surface another shard owns with 421 and the owning shard', async () => {
    const name = names.find((candidate) => ownerOf(candidate) !== 0) as string;
    const before = target.requests.length;
    const res = await forcePoll(shards[0] as TestExporter, name);
    assert.equal(res.status, 421);
    assert.deepEqual(await res.json(), {
      error: `surface owned by shard ${ownerOf(name)}`,
      owning_shard: ownerOf(name),
    });
    assert.equal(target.requests.length, before, 'no probe for a foreign surface');
    const owner = await forcePoll(shards[ownerOf(name)] as TestExporter, name);
    assert.equal(owner.status, 200);
    const unknown = await forcePoll(shards[0] as TestExporter, 'no-such-surface');
    assert.equal(unknown.status, 404);
  });
});

describe('budget share', () => {
  const API_KEY = 'HRKU-shard-0123456789abcdef0123456789abcdef';
  const APPS = 40;
  let heroku: HerokuFake;

  before(async () => {
    heroku = await startHerokuApi({ apiKeys: [API_KEY] });
  });
  after(() => heroku.close());

  /*
   * 40 apps cost 3 calls each per refresh. Alone, the 300 s TTL spends 40 x 3 x 12 = 1,440 calls an
   * hour, inside 80 % of 4,500. One shard of three plans for 80 % of 1,500 = 1,200, so its TTL is
   * lengthened to 40 x 3 x 3600 / 1,200 = 360 s.
   */
  async function exporterOwning(
    total: number,
    clock: Clock,
  ): Promise<{ exporter: TestExporter; keys: string[] }> {
    const surfaces: Array<Record<string, string>> = [];
    for (let index = 0; surfaces.length < APPS; index++) {
      const name = `app-${index}`;
      if (owningShard('prod', name, total) !== 0) continue;
      heroku.addApp({ name: `shard-${name}` });
      surfaces.push({ name, provider: 'heroku_app', app: `shard-${name}` });
    }
    const exporter = await startTestExporter({
      registry: {
        poller: { interval_seconds: 30, timeout_seconds: 5, metadata_ttl_seconds: 300 },
        environments: { prod: surfaces },
      },
      pollerEnabled: false,
      env: { HEROKU_API_URL: heroku.url, HEROKU_API_KEY: API_KEY },
      clock,
      shard: { ordinal: 0, total },
    });
    return { exporter, keys: surfaces.map((surface) => `prod/${surface.name}`) };
  }

  for (const [total, refreshedAfter] of [
    [1, 301],
    [3, 361],
  ] as const) {
    it(`with ${total} shard(s) the 40 apps' metadata is reused until ${refreshedAfter - 1} s`, async (t) => {
      let offsetMs = 0;
      const clock: Clock = {
        now: () => Date.now() + offsetMs,
        monotonic: () => performance.now() + offsetMs,
      };
      const { exporter, keys } = await exporterOwning(total, clock);
      t.after(() => exporter.stop());
      for (const key of keys) await exporter.poller.probeOnce(key);
      heroku.resetCalls();
      // The last app refreshed already counts all 40; the first ones planned with fewer on the first round.
      const probed = keys.at(-1) as string;
      offsetMs = 301_000;
      await exporter.poller.probeOnce(probed);
      if (total === 1) {
        assert.equal(heroku.calls(), 3, 'alone, the configured TTL fits the budget');
        return;
      }
      assert.equal(heroku.calls(), 0, 'one shard of three keeps the entry past the configured TTL');
      offsetMs = refreshedAfter * 1000;
      await exporter.poller.probeOnce(probed);
      assert.equal(heroku.calls(), 3, 'and refreshes it once its planned TTL is over');
    });
  }

  describe('of the Cloudflare budget, for the Pages probes and the credential watch together', () => {
    const PAGES_TOKEN = 'cf-shard-pages-token-0123456789abcdef';
    const MGMT_TOKEN = 'cf-shard-mgmt-token-0123456789abcdef';
    let cloudflare: CloudflareFake;
    before(async () => {
      cloudflare = await startCloudflareApi({ tokens: [PAGES_TOKEN, MGMT_TOKEN] });
    });
    after(() => cloudflare.close());

    /*
     * 70 projects at a 60 s TTL spend 350 calls per 5 minutes. Alone that fits 80 % of 1,200; one
     * shard of three plans for 80 % of 400 = 320, so the watch gives way (to an hour) and the TTL
     * is lengthened to 70 x 300 / (320 - 2/12) = 66 s.
     */
    for (const [total, lengthened] of [
      [1, false],
      [3, true],
    ] as const) {
      it(`with ${total} shard(s) the plan ${lengthened ? 'lengthens both' : 'keeps both as configured'}`, async (t) => {
        const surfaces: Array<Record<string, string>> = [];
        for (let index = 0; surfaces.length < 70; index++) {
          const name = `pages-${total}-${index}`;
          if (owningShard('prod', name, total) !== 0) continue;
          cloudflare.addProject(name);
          cloudflare.addDeployment(name, { stage: 'deploy', status: 'success' });
          surfaces.push({ name, provider: 'cloudflare_pages', project: name });
        }
        const exporter = await startTestExporter({
          registry: {
            poller: { interval_seconds: 30, timeout_seconds: 5, metadata_ttl_seconds: 60 },
            lifecycle: { interval_seconds: 60 },
            environments: { prod: surfaces },
          },
          pollerEnabled: false,
          env: {
            CLOUDFLARE_API_URL: cloudflare.url,
            CLOUDFLARE_ACCOUNT_ID: cloudflare.accountId,
            CLOUDFLARE_PAGES_READ_TOKEN: PAGES_TOKEN,
            CLOUDFLARE_ACCESS_MGMT_TOKEN: MGMT_TOKEN,
          },
          shard: { ordinal: 0, total },
        });
        t.after(() => exporter.stop());
        for (const surface of surfaces) await exporter.poller.probeOnce(`prod/${surface.name}`);
        // The exporter's own watch, as `serve` starts it: it plans in the same budget.
        exporter.credentialWatch.start();
        await waitFor(
          () => exporter.credentialWatch.surfaceCredentials('prod', surfaces[0]?.name ?? '') !== undefined,
          { what: 'the credential watch to finish its first round' },
        );
        const plans = exporter.logs.lines().filter((line) => line.event === 'cloudflare_budget_plan');
        if (!lengthened) {
          assert.deepEqual(plans, []);
          return;
        }
        // One line in the first 5-minute window: the Pages refresh starting to be lengthened as the
        // count grew. The plan that settled (the watch's round added) is logged after the window.
        assert.equal(plans.length, 1);
        assert.equal(plans[0]?.budget_share, 1 / 3);
        assert.match(
          String(plans[0]?.msg),
          /^Cloudflare refresh lengthened to \d+ s .* to fit 1\/3 of the budget/,
        );
        const plan = cloudflareBudget(exporter.poller.plans, 1 / 3).plan();
        assert.equal(Math.ceil(plan.pagesTtlMs / 1000), 66);
        assert.equal(plan.watchIntervalMs, 3_600_000);
      });
    }
  });
});

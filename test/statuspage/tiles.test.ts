import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TileChanges } from '../../src/statuspage/changes.js';
import { ProbeHistory } from '../../src/statuspage/history.js';
import { buildStatusModel, type StatusModel, type SurfaceTile } from '../../src/statuspage/model.js';
import { renderStatusPage } from '../../src/statuspage/page.js';
import type { StatusSource, SurfaceReading } from '../../src/statuspage/source.js';

const NOW_MS = Date.parse('2026-12-01T10:00:00.000Z');
const VIEW = { version: 't', showTargets: false };

function reading(env: string, surface: string, checkedAgoSeconds: number | null): SurfaceReading {
  return {
    env,
    surface,
    provider: 'http',
    target: `http://${surface}.invalid/`,
    status: checkedAgoSeconds === null ? 'unknown' : 'up',
    error: null,
    detail: null,
    checked_at: checkedAgoSeconds === null ? null : new Date(NOW_MS - checkedAgoSeconds * 1000).toISOString(),
    duration_ms: checkedAgoSeconds === null ? null : 12,
    consecutive_failures: 0,
  };
}

function sourceOf(readings: () => SurfaceReading[]): StatusSource {
  return {
    surfaces: readings,
    heartbeat: () => ({
      enabled: true,
      stale: false,
      lastPollAt: new Date(NOW_MS).toISOString(),
      ageSeconds: 1,
    }),
    staleAfterSeconds: () => 120,
    intervalSeconds: () => 30,
    now: () => NOW_MS,
  };
}

/** What the page shows as a tile's check time, markup included. */
function checkedCell(page: string, surface: string): string {
  const start = page.indexOf(`data-surface="${surface}"`);
  assert.ok(start >= 0, `no tile ${surface}`);
  const cell = /<dt>Checked<\/dt><dd>(.*?)<\/dd>/s.exec(page.slice(start));
  assert.ok(cell, `no Checked row in ${surface}`);
  return cell[1] as string;
}

function onlyTile(model: StatusModel): SurfaceTile {
  const tile = model.environments[0]?.surfaces[0];
  assert.ok(tile);
  return tile;
}

describe('status page tiles', () => {
  it('forgets the tiles of an environment a reload removed, when only ?env= pages of another are open', () => {
    let registered = [
      reading('prod', 'api', 5),
      reading('prod', 'web', 5),
      reading('staging', 'api', 5),
      reading('staging', 'web', 5),
    ];
    const source = sourceOf(() => registered);
    const history = new ProbeHistory();
    const changes = new TileChanges();
    const look = (env: string | undefined) => {
      const model = buildStatusModel(source, history, { ...VIEW, env }, changes);
      const cursor = changes.observe(model, env);
      // A live render keeps every tile's fragments in `changes`.
      renderStatusPage(model, env, { changes, cursor });
      return cursor;
    };
    look(undefined);
    look('staging');
    const prodCursor = look('prod');
    assert.equal(changes.size, 4);

    registered = registered.filter((surface) => surface.env === 'prod');
    look('prod');
    look('prod');
    assert.equal(changes.size, 2, 'the removed environment left nothing tracked');
    assert.equal(
      changes.since(prodCursor),
      'full',
      'a cursor from before the reload gets a full answer, the set of surfaces having changed',
    );
  });

  it('closes the check time it opened, by checked_at alone', () => {
    const checked = buildStatusModel(
      sourceOf(() => [reading('prod', 'api', 5)]),
      new ProbeHistory(),
      VIEW,
    );
    const tile = onlyTile(checked);
    // A model whose age disagrees with its checked_at: the markup must still be whole.
    tile.age_seconds = null;
    assert.equal(
      checkedCell(renderStatusPage(checked), 'api'),
      `<time class="ago" datetime="${tile.checked_at}">5 s ago</time>`,
    );

    const never = buildStatusModel(
      sourceOf(() => [reading('prod', 'api', null)]),
      new ProbeHistory(),
      VIEW,
    );
    onlyTile(never).age_seconds = 7;
    assert.equal(checkedCell(renderStatusPage(never), 'api'), 'never');
  });
});

import { ASSET_PATH } from './assets.js';
import type { TileChanges, TileFragments } from './changes.js';
import { allCodeHelp } from './codeDocs.js';
import { HISTORY_CODES, HISTORY_LENGTH } from './history.js';
import { escapeHtml, Html, html, withCode } from './html.js';
import type { EnvironmentView, StateCounts, StatusModel, SurfaceTile } from './model.js';
import { STATE_LOOKS, TILE_STATES } from './states.js';

export const STATUS_PATH = '/status';
export const STATUS_API_PATH = '/api/status';

/** The tile cache and cursor of a live page: the exporter passes them; a one-off render goes without. */
export interface LiveRender {
  changes: TileChanges;
  /** What `changes.observe` answered for this model: the script asks for what changed after it. */
  cursor: string;
}

/**
 * The whole page, complete without JavaScript; the script then patches it from
 * `/api/status?since=<cursor>`. With `live`, each tile's markup is kept between renders and built
 * again only when its signature changes, so a render of a fleet that changed little costs little.
 */
export function renderStatusPage(model: StatusModel, env?: string, live?: LiveRender): string {
  const render: TileRender = {
    // Many surfaces share one history (a steady fleet is all "uuu…"): each distinct strip is built once.
    strips: new Map(),
    nowMs: Date.parse(model.generated_at),
    changes: live?.changes,
  };
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${pageTitle(model)}</title>
<link rel="stylesheet" href="${ASSET_PATH}/status.css">
<link rel="icon" href="${ASSET_PATH}/favicon.svg" type="image/svg+xml">
<script src="${ASSET_PATH}/status.js" defer></script>
</head>
<body data-refresh-seconds="${model.refresh_seconds}" data-api="${STATUS_API_PATH}"${live ? html` data-cursor="${live.cursor}"` : ''}${env === undefined ? '' : html` data-env="${env}"`}>
<header>
<h1>${env === undefined ? 'Surface status' : html`Surface status: ${env}`}</h1>
${summary(model)}
<p class="meta" id="generated">surface-exporter ${model.version} · build Node ${model.build.nodejs_version} · rendered <time datetime="${model.generated_at}">${clockTime(model.generated_at)}</time> · refreshes every ${model.refresh_seconds} s${env === undefined ? '' : html` · <a href="${STATUS_PATH}">all environments</a>`}</p>
</header>
${banner(model)}
<p id="connection" class="banner" role="status" hidden>The exporter stopped answering; this page shows the last answer and keeps retrying.</p>
<main id="surfaces">
${model.environments.map((view) => environment(view, render))}
${model.total === 0 ? html`<p>No surfaces in the registry.</p>` : ''}
</main>
${legend(model.stale_after_seconds)}
${footer()}
</body>
</html>
`;
  return page.text;
}

interface TileRender {
  strips: Map<string, string>;
  nowMs: number;
  changes: TileChanges | undefined;
}

function pageTitle(model: StatusModel): string {
  const failing = TILE_STATES.filter((state) => state !== 'up' && model.counts[state] > 0);
  const said =
    failing.length === 0
      ? model.total === 0
        ? 'no surfaces'
        : `all ${model.total} UP`
      : failing.map((state) => `${model.counts[state]} ${STATE_LOOKS[state].label}`).join(', ');
  return `Status: ${said} · surface-exporter`;
}

function summary(model: StatusModel): Html {
  return html`<p class="summary" id="summary"><strong>${model.total} ${model.total === 1 ? 'surface' : 'surfaces'}</strong> ${countPills(model.counts)}</p>`;
}

function countPills(counts: StateCounts): Html[] {
  return TILE_STATES.filter((state) => counts[state] > 0).map(
    (state) => html` <span class="state state-${state}">${counts[state]} ${STATE_LOOKS[state].label}</span>`,
  );
}

function banner(model: StatusModel): Html {
  const { poller } = model;
  if (poller.state === 'stale') {
    const since =
      poller.age_seconds === null ? 'since the exporter started' : `for ${formatAge(poller.age_seconds)}`;
    return html`<div id="banner"><p class="banner" role="alert">Poller heartbeat stale: no probe has completed ${since} (stale_after_seconds is ${model.stale_after_seconds}). The tiles show the last results seen; <a href="/health">/health</a> answers 503.</p></div>`;
  }
  if (poller.state === 'disabled')
    return html`<div id="banner"><p class="banner info" role="status">The background poller is off (--no-poller or TESTING=true): tiles change only when a force-poll runs.</p></div>`;
  return html`<div id="banner"></div>`;
}

function environment(view: EnvironmentView, render: TileRender): Html {
  let tiles = '';
  for (const surface of view.surfaces) tiles += tile(surface, render);
  return html`<section class="env" data-env="${view.name}" aria-labelledby="env-${view.name}">
<h2 id="env-${view.name}"><a href="${STATUS_PATH}?env=${encodeURIComponent(view.name)}">${view.name}</a> <span class="state state-${view.state}">${STATE_LOOKS[view.state].label}</span></h2>
<p class="counts"><span class="tally">${view.total} ${view.total === 1 ? 'surface' : 'surfaces'}: ${TILE_STATES.filter(
    (state) => view.counts[state] > 0,
  )
    .map((state) => `${view.counts[state]} ${STATE_LOOKS[state].label}`)
    .join(', ')}</span> · <a href="/badge/${encodeURIComponent(view.name)}.svg">${view.name} badge</a></p>
<ul class="tiles">
${new Html(tiles)}</ul>
</section>
`;
}

/** A tile: its kept fragments around what the clock changes, which is written on every render. */
function tile(surface: SurfaceTile, render: TileRender): string {
  let fragments = render.changes?.fragments(surface);
  if (!fragments) {
    fragments = tileFragments(surface, render.strips);
    render.changes?.keepFragments(surface, fragments);
  }
  const checked =
    surface.checked_at === null || surface.age_seconds === null
      ? 'never'
      : `<time class="ago" datetime="${escapeHtml(surface.checked_at)}">${formatAge(surface.age_seconds)} ago</time>`;
  const expiry = surface.credential_expires_at
    ? credentialExpiry(surface.credential_expires_at, render.nowMs).text
    : '';
  return fragments.head + checked + fragments.middle + expiry + fragments.tail;
}

function tileFragments(surface: SurfaceTile, strips: Map<string, string>): TileFragments {
  const lastVerdict =
    surface.state !== surface.status && surface.status !== 'unknown'
      ? html`<dt>Last result</dt><dd>${surface.status.toUpperCase()}</dd>`
      : '';
  return {
    head: html`<li class="tile tile-${surface.state}" data-env="${surface.env}" data-surface="${surface.surface}" data-state="${surface.state}">
<div class="tile-head"><h3>${surface.surface}</h3><span class="state state-${surface.state}">${surface.label}</span></div>
<p class="provider">${surface.provider}${surface.target === undefined ? '' : html` · <code>${surface.target}</code>`}</p>
<dl>
${lastVerdict}<dt>Code</dt><dd>${surface.code === null ? 'none' : html`<code>${surface.code}</code>`}</dd>
${surface.fix === null ? '' : html`<dt>Fix</dt><dd>${withCode(surface.fix)} <a href="${surface.runbook_url ?? ''}">Runbook</a></dd>`}
${surface.detail ? html`<dt>Detail</dt><dd>${surface.detail}</dd>` : ''}
<dt>Latency</dt><dd>${surface.latency_ms === null ? '–' : `${surface.latency_ms} ms`}</dd>
<dt>Checked</dt><dd>`.text,
    middle: html`</dd>
${surface.consecutive_failures > 0 ? html`<dt>Failing</dt><dd>${surface.consecutive_failures} ${surface.consecutive_failures === 1 ? 'check' : 'checks'} in a row</dd>` : ''}
`.text,
    tail: `
</dl>
${historyStrip(surface.history, strips)}
</li>
`,
  };
}

/**
 * One cell per run of equal results, newest first in a right-to-left grid, so the newest result
 * sits at the right end. A plain loop over the history string: at 10,000 flapping surfaces this is
 * 600,000 cells, the bulk of the page.
 */
function historyStrip(codes: string, strips: Map<string, string>): string {
  const built = strips.get(codes);
  if (built) return built;
  const strip = buildStrip(codes);
  strips.set(codes, strip);
  return strip;
}

/**
 * Every cell the strip can hold, built once: a run of 1 to 60 results of one state. Cells are classed
 * by their one-character history code, the shortest markup there is for the bulk of a large page.
 */
const CELLS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.keys(HISTORY_CODES).map((code) => [
    code,
    Array.from({ length: HISTORY_LENGTH + 1 }, (_, run) =>
      run <= 1 ? `<i class="${code}"></i>` : `<i class="${code} s${run}"></i>`,
    ),
  ]),
);

function buildStrip(codes: string): string {
  if (codes.length === 0) return '<div class="history" role="img" aria-label="History: no result yet"></div>';
  const counts: Record<string, number> = {};
  let cells = '';
  let run = 0;
  for (let index = codes.length - 1; index >= 0; index--) {
    const code = codes[index] as string;
    counts[code] = (counts[code] ?? 0) + 1;
    run++;
    if (index === 0 || codes[index - 1] !== code) {
      cells += (CELLS[code] as readonly string[])[run];
      run = 0;
    }
  }
  const said = Object.entries(HISTORY_CODES)
    .filter(([code]) => counts[code])
    .map(([code, state]) => `${counts[code]} ${STATE_LOOKS[state].label}`)
    .join(', ');
  const results = codes.length === 1 ? 'result' : 'results';
  return `<div class="history" role="img" aria-label="History of the last ${codes.length} ${results}: ${said}">${cells}</div>`;
}

function legend(staleAfterSeconds: number): Html {
  return html`<section aria-labelledby="legend"><h2 id="legend">States</h2>
<ul class="legend">${TILE_STATES.map(
    (state) =>
      html`<li><span class="state state-${state}">${STATE_LOOKS[state].label}</span> ${state === 'stale' ? `the last check is older than ${staleAfterSeconds} s` : STATE_LOOKS[state].meaning}</li>`,
  )}</ul></section>`;
}

function footer(): Html {
  return html`<footer><ul>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
<li><a href="/health">/health</a>: poller heartbeat</li>
<li><a href="${STATUS_API_PATH}">${STATUS_API_PATH}</a>: this page as JSON</li>
<li><a href="${STATUS_PATH}/codes">Error codes</a>: what each means and what to do</li>
<li>Badges: <code>/badge/{env}.svg</code>, <code>/badge/{env}/{surface}.svg</code></li>
<li>Operator API (bearer <code>FORCE_POLL_TOKEN</code>): <code>GET /api/_internal/poller-status</code>, <code>POST /api/force-poll?env=&amp;surface=</code>, <code>POST /-/reload</code></li>
</ul></footer>`;
}

/** Every error code with its meaning and fix; anchors are those of docs/runbook.md. */
export function renderCodesPage(version: string): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Error codes · surface-exporter</title>
<link rel="stylesheet" href="${ASSET_PATH}/status.css">
<link rel="icon" href="${ASSET_PATH}/favicon.svg" type="image/svg+xml">
</head>
<body>
<header><h1>Error codes</h1><p class="meta">surface-exporter ${version} · <a href="${STATUS_PATH}">back to the status page</a> · the full runbook is docs/runbook.md in the repository</p></header>
<main>
<dl class="codes">
${[...allCodeHelp()].map(
  (help) =>
    html`<dt id="${help.anchor}"><code>${help.family}</code></dt><dd>${withCode(help.meaning)}</dd><dd><strong>Fix:</strong> ${withCode(help.action)}</dd>`,
)}
</dl>
</main>
${footer()}
</body>
</html>
`.text;
}

function credentialExpiry(expiresAt: string, nowMs: number): Html {
  const left = (Date.parse(expiresAt) - nowMs) / 1000;
  const when = left > 0 ? `in ${formatAge(left)}` : 'expired';
  return html`<dt>Credential</dt><dd>expires <time class="expiry" datetime="${expiresAt}">${expiresAt.slice(0, 10)}</time> (${when})</dd>`;
}

/** "12 s", "4 min", "3 h", "2 d": coarse enough to read at a glance. */
export function formatAge(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

function clockTime(iso: string): string {
  return `${iso.slice(11, 19)} UTC`;
}

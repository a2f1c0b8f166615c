import { ageSeconds, formatAge } from './age.js';
import { ASSET_PATH } from './assets.js';
import type { TileChanges, TileFragments } from './changes.js';
import { allCodeHelp } from './codeDocs.js';
import { HISTORY_CODES, STRIP_CELL_CLASSES } from './history.js';
import { escapeHtml, type Html, html, withCode } from './html.js';
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
 * `/api/status?since=<cursor>`. With `live`, each tile's markup is kept, encoded, between renders
 * and built again only when its signature changes: a render then costs the model and a copy of the
 * kept bytes, with only the ages written anew.
 */
export function renderStatusPageBytes(model: StatusModel, env?: string, live?: LiveRender): Buffer {
  const render: TileRender = {
    fixes: new Map(),
    ages: new Map(),
    nowMs: Date.parse(model.generated_at),
    changes: live?.changes,
  };
  const chunks: Buffer[] = [];
  chunks.push(
    Buffer.from(
      html`<!doctype html>
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
`.text,
    ),
  );
  for (const view of model.environments) environment(view, render, chunks);
  chunks.push(
    Buffer.from(
      html`${model.total === 0 ? html`<p>No surfaces in the registry.</p>` : ''}
</main>
${legend(model.stale_after_seconds)}
${footer()}
</body>
</html>
`.text,
    ),
  );
  return Buffer.concat(chunks);
}

export function renderStatusPage(model: StatusModel, env?: string, live?: LiveRender): string {
  return renderStatusPageBytes(model, env, live).toString('utf8');
}

interface TileRender {
  /** Fix rows by fix and runbook link: a page has as many as it has codes. */
  fixes: Map<string, Map<string, string>>;
  /** "12 s ago</time>" and the like: a page has a few hundred distinct ones at most. */
  ages: Map<number, Buffer>;
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

function environment(view: EnvironmentView, render: TileRender, chunks: Buffer[]): void {
  chunks.push(
    Buffer.from(
      html`<section class="env" data-env="${view.name}" aria-labelledby="env-${view.name}">
<h2 id="env-${view.name}"><a href="${STATUS_PATH}?env=${encodeURIComponent(view.name)}">${view.name}</a> <span class="state state-${view.state}">${STATE_LOOKS[view.state].label}</span></h2>
<p class="counts"><span class="tally">${view.total} ${view.total === 1 ? 'surface' : 'surfaces'}: ${TILE_STATES.filter(
        (state) => view.counts[state] > 0,
      )
        .map((state) => `${view.counts[state]} ${STATE_LOOKS[state].label}`)
        .join(', ')}</span> · <a href="/badge/${encodeURIComponent(view.name)}.svg">${view.name} badge</a></p>
<ul class="tiles">
`.text,
    ),
  );
  for (const surface of view.surfaces) tile(surface, render, chunks);
  chunks.push(SECTION_END);
}

const SECTION_END = Buffer.from('</ul>\n</section>\n');
const NEVER = Buffer.from('never');

/** A tile: its kept fragments around what the clock changes, which is written on every render. */
function tile(surface: SurfaceTile, render: TileRender, chunks: Buffer[]): void {
  let fragments = render.changes?.fragments(surface);
  if (!fragments) {
    fragments = tileFragments(surface, render);
    render.changes?.keepFragments(surface, fragments);
  }
  const { checkedAtMs } = fragments;
  chunks.push(
    fragments.head,
    checkedAtMs === null ? NEVER : age(ageSeconds(checkedAtMs, render.nowMs), render),
  );
  if (surface.credential_expires_at)
    chunks.push(
      fragments.middle,
      Buffer.from(credentialExpiry(surface.credential_expires_at, render.nowMs).text),
      fragments.tail,
    );
  else chunks.push(fragments.rest);
}

function fixRow(fix: string, runbookUrl: string, render: TileRender): string {
  let byRunbook = render.fixes.get(fix);
  if (!byRunbook) {
    byRunbook = new Map();
    render.fixes.set(fix, byRunbook);
  }
  let row = byRunbook.get(runbookUrl);
  if (!row) {
    row = html`<dt>Fix</dt><dd>${withCode(fix)} <a href="${runbookUrl}">Runbook</a></dd>`.text;
    byRunbook.set(runbookUrl, row);
  }
  return row;
}

function age(seconds: number, render: TileRender): Buffer {
  let said = render.ages.get(seconds);
  if (!said) {
    said = Buffer.from(`${formatAge(seconds)} ago</time>`);
    render.ages.set(seconds, said);
  }
  return said;
}

/**
 * One encoding per tile, cut where the clock's parts go. The hottest markup of the page when every
 * surface changes: plain template strings, each value escaped by hand (the html tag costs three
 * times as much here); states, labels and numbers come from this code, not from the registry.
 */
function tileFragments(surface: SurfaceTile, render: TileRender): TileFragments {
  const { state } = surface;
  const name = escapeHtml(surface.surface);
  const lastVerdict =
    state !== surface.status && surface.status !== 'unknown'
      ? `<dt>Last result</dt><dd>${surface.status.toUpperCase()}</dd>`
      : '';
  const target = surface.target === undefined ? '' : ` · <code>${escapeHtml(surface.target)}</code>`;
  const code = surface.code === null ? 'none' : `<code>${escapeHtml(surface.code)}</code>`;
  const fix = surface.fix === null ? '' : fixRow(surface.fix, surface.runbook_url ?? '', render);
  const detail = surface.detail ? `<dt>Detail</dt><dd>${escapeHtml(surface.detail)}</dd>` : '';
  const latency = surface.latency_ms === null ? '–' : `${surface.latency_ms} ms`;
  const checkedAtMs = surface.checked_at === null ? null : Date.parse(surface.checked_at);
  const checked =
    surface.checked_at === null ? '' : `<time class="ago" datetime="${escapeHtml(surface.checked_at)}">`;
  const failures = surface.consecutive_failures;
  const failing =
    failures > 0
      ? `<dt>Failing</dt><dd>${failures} ${failures === 1 ? 'check' : 'checks'} in a row</dd>`
      : '';
  const head = `<li class="tile tile-${state}" data-env="${escapeHtml(surface.env)}" data-surface="${name}" data-state="${state}">
<div class="tile-head"><h3>${name}</h3><span class="state state-${state}">${surface.label}</span></div>
<p class="provider">${escapeHtml(surface.provider)}${target}</p>
<dl>
${lastVerdict}<dt>Code</dt><dd>${code}</dd>
${fix}
${detail}
<dt>Latency</dt><dd>${latency}</dd>
<dt>Checked</dt><dd>${checked}`;
  const middle = `</dd>
${failing}
`;
  const tail = `
</dl>
${historyStrip(surface.history)}
</li>
`;
  const bytes = Buffer.from(head + middle + tail);
  const headEnd = Buffer.byteLength(head);
  const middleEnd = headEnd + Buffer.byteLength(middle);
  return {
    head: bytes.subarray(0, headEnd),
    middle: bytes.subarray(headEnd, middleEnd),
    tail: bytes.subarray(middleEnd),
    rest: bytes.subarray(headEnd),
    checkedAtMs,
  };
}

/**
 * Every cell the strip can hold, built once: a run of 1 to 60 results of one state, as one element
 * with one class, the code and the run's length (`d3`, styled from the stylesheet's prebuilt table):
 * the shortest markup there is for the bulk of a large page.
 */
const CELLS: ReadonlyArray<readonly string[] | undefined> = (() => {
  const byCharCode: Array<readonly string[] | undefined> = [];
  for (const [code, classes] of Object.entries(STRIP_CELL_CLASSES))
    byCharCode[code.charCodeAt(0)] = classes.map((name) => `<i class=${name}></i>`);
  return byCharCode;
})();

const HISTORY_LABELS = Object.entries(HISTORY_CODES).map(
  ([code, state]) => [code.charCodeAt(0), STATE_LOOKS[state].label] as const,
);

/**
 * One cell per run of equal results, newest first in a right-to-left grid, so the newest result
 * sits at the right end. A plain loop over character codes: when every surface flaps, a render
 * after a round builds 10,000 strips of about 30 cells, the bulk of the page.
 */
function historyStrip(codes: string): string {
  const length = codes.length;
  if (length === 0) return '<div class="history" role="img" aria-label="History: no result yet"></div>';
  const counts: number[] = [];
  let cells = '';
  let run = 0;
  let code = codes.charCodeAt(length - 1);
  for (let index = length - 1; index >= 0; index--) {
    run++;
    const older = index === 0 ? -1 : codes.charCodeAt(index - 1);
    if (older !== code) {
      cells += (CELLS[code] as readonly string[])[run];
      counts[code] = (counts[code] ?? 0) + run;
      run = 0;
      code = older;
    }
  }
  let said = '';
  for (const [charCode, label] of HISTORY_LABELS) {
    const count = counts[charCode];
    if (count !== undefined) said += `${said === '' ? '' : ', '}${count} ${label}`;
  }
  return `<div class="history" role="img" aria-label="History of the last ${length} ${length === 1 ? 'result' : 'results'}: ${said}">${cells}</div>`;
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

function clockTime(iso: string): string {
  return `${iso.slice(11, 19)} UTC`;
}

import { AGE_STEPS } from './age.js';
import { HISTORY_CODES, HISTORY_LENGTH, STRIP_CELL_CLASSES } from './history.js';
import { STATE_LOOKS, TILE_STATES } from './states.js';

/**
 * The page's only script and stylesheet, served from the exporter itself (a strict CSP allows no
 * inline script, and the page must work offline). They live here as text, not as files, so that
 * `dist/` carries them without a copy step in the build or the image.
 */
export interface StaticAsset {
  contentType: string;
  body: string;
}

const stateRules = TILE_STATES.map((state) => {
  const { colour } = STATE_LOOKS[state];
  return `.state-${state}{background:${colour}}.tile-${state}{border-left-color:${colour}}`;
}).join('\n');

const historyRules = Object.entries(HISTORY_CODES)
  .map(([code, state]) => `.history [class^=${code}]{background:${STATE_LOOKS[state].colour}}`)
  .join('');

// One class per code and run length: a run of n equal results spans n of the strip's columns.
const spanRules = Array.from({ length: HISTORY_LENGTH - 1 }, (_, index) => {
  const run = index + 2;
  const classes = Object.values(STRIP_CELL_CLASSES).map((names) => `.${names[run]}`);
  return `${classes.join(',')}{grid-column:span ${run}}`;
}).join('\n');

const STYLESHEET = `:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.4}
body{margin:0 auto;max-width:88rem;padding:1rem 1.25rem;color:#1f2328;background:#f6f8fa}
a{color:#0550ae}
h1{font-size:1.5rem;margin:0 0 .25rem}
h2{font-size:1.2rem;margin:1.5rem 0 .25rem;display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
h3{font-size:1rem;margin:0;overflow-wrap:anywhere}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
.meta,.counts,.provider{color:#57606a;font-size:.875rem;margin:.1rem 0}
.summary{margin:.25rem 0;font-size:1rem}
.banner{padding:.75rem 1rem;border-radius:6px;margin:1rem 0;font-weight:600;background:#ffebe9;border:1px solid #cf222e;color:#82071e}
.banner.info{background:#ddf4ff;border-color:#0969da;color:#0a3069}
.state{color:#fff;font-weight:700;font-size:.75rem;letter-spacing:.03em;padding:.1rem .5rem;border-radius:999px;white-space:nowrap}
.tiles{list-style:none;padding:0;margin:.5rem 0;display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.75rem}
.tile{background:#fff;border:1px solid #d0d7de;border-left:6px solid #57606a;border-radius:6px;padding:.6rem .75rem}
.tile-head{display:flex;justify-content:space-between;align-items:baseline;gap:.5rem}
.tile dl{margin:.4rem 0 0;display:grid;grid-template-columns:5.5rem 1fr;gap:.1rem .6rem;font-size:.875rem}
.tile dt{color:#57606a}
.tile dd{margin:0;overflow-wrap:anywhere}
.history{display:grid;grid-template-columns:repeat(${HISTORY_LENGTH},1fr);direction:rtl;height:.7rem;margin-top:.5rem;background:#eaeef2;border-radius:2px;overflow:hidden;gap:1px}
.history i{display:block}
.legend{display:flex;flex-wrap:wrap;gap:.5rem 1rem;list-style:none;padding:0;font-size:.875rem}
footer{margin-top:2rem;padding-top:.75rem;border-top:1px solid #d0d7de;font-size:.875rem;color:#57606a}
footer ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1.25rem}
.codes dt{margin-top:1rem;font-weight:600}
.codes dd{margin:.2rem 0 0 1rem}
${stateRules}
${historyRules}
${spanRules}
`;

const LABELS = Object.fromEntries(TILE_STATES.map((state) => [state, STATE_LOOKS[state].label]));
const HISTORY_LABELS = Object.fromEntries(
  Object.entries(HISTORY_CODES).map(([code, state]) => [code, STATE_LOOKS[state].label]),
);

/**
 * The page works without this. It asks `/api/status?since=<cursor>` every refresh_seconds for the
 * tiles whose result changed and rebuilds those, moves the check time and latency of those only
 * checked again, and rewrites the summaries, banner and every "ago". The
 * markup it builds is the server's (page.ts), element for element, which a browser test compares.
 * When the set of surfaces changed (a reload), the answer is full and the tiles no longer match the
 * page's, so it fetches the page once and swaps it in, since tiles stand in registry order.
 */
const SCRIPT = `'use strict';
(() => {
  const LABELS = ${JSON.stringify(LABELS)};
  const ORDER = ${JSON.stringify(TILE_STATES)};
  const HISTORY_LABELS = ${JSON.stringify(HISTORY_LABELS)};
  const CELL_CLASSES = ${JSON.stringify(STRIP_CELL_CLASSES)};
  const AGE_STEPS = ${JSON.stringify(AGE_STEPS)};
  const body = document.body;
  const seconds = Number(body.dataset.refreshSeconds) || 5;
  let cursor = body.dataset.cursor;
  const el = (tag, attributes, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  };
  const formatAge = (s) => {
    const step = AGE_STEPS.find((candidate) => candidate.below === undefined || s < candidate.below);
    return Math.round(s / step.seconds) + ' ' + step.unit;
  };
  const ageOf = (iso, nowMs) => Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000));
  const expiryText = (iso, nowMs) => {
    const left = (Date.parse(iso) - nowMs) / 1000;
    return ' (' + (left > 0 ? 'in ' + formatAge(left) : 'expired') + ')';
  };
  const tally = (counts) => ORDER.filter((state) => counts[state] > 0).map((state) => counts[state] + ' ' + LABELS[state]);
  const withCode = (text) => text.split('\`').map((part, index) => (index % 2 === 1 ? el('code', {}, part) : part));
  const strip = (codes) => {
    if (codes.length === 0) return el('div', { class: 'history', role: 'img', 'aria-label': 'History: no result yet' });
    const node = el('div', { class: 'history', role: 'img' });
    const counts = {};
    let run = 0;
    for (let index = codes.length - 1; index >= 0; index--) {
      const code = codes[index];
      counts[code] = (counts[code] || 0) + 1;
      run++;
      if (index === 0 || codes[index - 1] !== code) {
        node.append(el('i', { class: CELL_CLASSES[code][run] }));
        run = 0;
      }
    }
    const said = Object.keys(HISTORY_LABELS).filter((code) => counts[code]).map((code) => counts[code] + ' ' + HISTORY_LABELS[code]);
    node.setAttribute('aria-label', 'History of the last ' + codes.length + (codes.length === 1 ? ' result: ' : ' results: ') + said.join(', '));
    return node;
  };
  const tile = (t, nowMs) => {
    const rows = [];
    if (t.state !== t.status && t.status !== 'unknown') rows.push(el('dt', {}, 'Last result'), el('dd', {}, t.status.toUpperCase()));
    rows.push(el('dt', {}, 'Code'), el('dd', {}, t.code === null ? 'none' : el('code', {}, t.code)));
    if (t.fix !== null) rows.push(el('dt', {}, 'Fix'), el('dd', {}, ...withCode(t.fix), ' ', el('a', { href: t.runbook_url ?? '' }, 'Runbook')));
    if (t.detail) rows.push(el('dt', {}, 'Detail'), el('dd', {}, t.detail));
    rows.push(el('dt', {}, 'Latency'), el('dd', {}, t.latency_ms === null ? '\u2013' : t.latency_ms + ' ms'));
    rows.push(
      el('dt', {}, 'Checked'),
      el('dd', {}, t.checked_at === null ? 'never' : el('time', { class: 'ago', datetime: t.checked_at }, formatAge(ageOf(t.checked_at, nowMs)) + ' ago')),
    );
    const failing = t.consecutive_failures;
    if (failing > 0) rows.push(el('dt', {}, 'Failing'), el('dd', {}, failing + (failing === 1 ? ' check' : ' checks') + ' in a row'));
    const expiry = t.credential_expires_at;
    if (expiry)
      rows.push(el('dt', {}, 'Credential'), el('dd', {}, 'expires ', el('time', { class: 'expiry', datetime: expiry }, expiry.slice(0, 10)), expiryText(expiry, nowMs)));
    const provider = el('p', { class: 'provider' }, t.provider);
    if (t.target !== undefined) provider.append(' \u00b7 ', el('code', {}, t.target));
    return el(
      'li',
      { class: 'tile tile-' + t.state, 'data-env': t.env, 'data-surface': t.surface, 'data-state': t.state },
      el('div', { class: 'tile-head' }, el('h3', {}, t.surface), el('span', { class: 'state state-' + t.state }, t.label)),
      provider,
      el('dl', {}, ...rows),
      strip(t.history),
    );
  };
  const pill = (state, text) => el('span', { class: 'state state-' + state }, text);
  const banner = (answer) => {
    const { poller } = answer;
    if (poller.state === 'stale') {
      const since = poller.age_seconds === null ? 'since the exporter started' : 'for ' + formatAge(poller.age_seconds);
      return [
        el('p', { class: 'banner', role: 'alert' },
          'Poller heartbeat stale: no probe has completed ' + since + ' (stale_after_seconds is ' + answer.stale_after_seconds + '). The tiles show the last results seen; ',
          el('a', { href: '/health' }, '/health'),
          ' answers 503.'),
      ];
    }
    if (poller.state === 'disabled')
      return [el('p', { class: 'banner info', role: 'status' }, 'The background poller is off (--no-poller or TESTING=true): tiles change only when a force-poll runs.')];
    return [];
  };
  const title = (answer) => {
    const failing = ORDER.filter((state) => state !== 'up' && answer.counts[state] > 0);
    const said = failing.length > 0
      ? failing.map((state) => answer.counts[state] + ' ' + LABELS[state]).join(', ')
      : answer.total === 0 ? 'no surfaces' : 'all ' + answer.total + ' UP';
    return 'Status: ' + said + ' \u00b7 surface-exporter';
  };
  // False when the page's tiles are not the answer's: the caller then swaps in a fresh page.
  const apply = (answer) => {
    const nowMs = Date.parse(answer.generated_at);
    const sections = new Map();
    for (const section of document.querySelectorAll('#surfaces section.env')) sections.set(section.dataset.env, section);
    if (sections.size !== answer.environments.length) return false;
    const changed = answer.environments.some((view) => view.surfaces.length > 0 || (view.checked || []).length > 0);
    const tiles = new Map();
    if (changed || answer.full)
      for (const node of document.querySelectorAll('#surfaces li.tile')) tiles.set(node.dataset.env + '/' + node.dataset.surface, node);
    if (answer.full && tiles.size !== answer.total) return false;
    for (const view of answer.environments) {
      const section = sections.get(view.name);
      if (!section) return false;
      for (const t of view.surfaces) {
        const current = tiles.get(t.env + '/' + t.surface);
        if (!current) return false;
        current.replaceWith(tile(t, nowMs));
      }
      for (const again of view.checked || []) {
        const time = tiles.get(view.name + '/' + again.surface)?.querySelector('time.ago');
        if (!time) return false;
        time.setAttribute('datetime', again.checked_at);
        // The Latency value is the dd two before the Checked one (page.ts writes them in that order).
        time.parentElement.previousElementSibling.previousElementSibling.textContent =
          again.latency_ms === null ? '\u2013' : again.latency_ms + ' ms';
      }
      const worst = section.querySelector('h2 .state');
      worst.className = 'state state-' + view.state;
      worst.textContent = LABELS[view.state];
      section.querySelector('.tally').textContent = view.total + (view.total === 1 ? ' surface: ' : ' surfaces: ') + tally(view.counts).join(', ');
    }
    const summary = document.getElementById('summary');
    summary.replaceChildren(
      el('strong', {}, answer.total + (answer.total === 1 ? ' surface' : ' surfaces')),
      ' ',
      ...ORDER.filter((state) => answer.counts[state] > 0).flatMap((state) => [' ', pill(state, answer.counts[state] + ' ' + LABELS[state])]),
    );
    document.getElementById('banner').replaceChildren(...banner(answer));
    const rendered = document.querySelector('#generated time');
    rendered.setAttribute('datetime', answer.generated_at);
    rendered.textContent = answer.generated_at.slice(11, 19) + ' UTC';
    for (const time of document.querySelectorAll('#surfaces time.ago')) {
      const text = formatAge(ageOf(time.getAttribute('datetime'), nowMs)) + ' ago';
      if (time.textContent !== text) time.textContent = text;
    }
    for (const time of document.querySelectorAll('#surfaces time.expiry')) {
      const text = expiryText(time.getAttribute('datetime'), nowMs);
      if (time.nextSibling && time.nextSibling.textContent !== text) time.nextSibling.textContent = text;
    }
    document.title = title(answer);
    return true;
  };
  const swapPage = async () => {
    const res = await fetch(location.href, { headers: { accept: 'text/html' }, cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const next = new DOMParser().parseFromString(await res.text(), 'text/html');
    for (const id of ['summary', 'banner', 'surfaces', 'generated']) {
      const current = document.getElementById(id);
      const fresh = next.getElementById(id);
      if (current && fresh) current.replaceWith(document.adoptNode(fresh));
    }
    document.title = next.title;
    cursor = next.body.dataset.cursor;
  };
  const showLost = (lost) => {
    const note = document.getElementById('connection');
    if (note) note.hidden = !lost;
  };
  const refresh = async () => {
    try {
      const query = new URLSearchParams();
      if (cursor) query.set('since', cursor);
      if (body.dataset.env) query.set('env', body.dataset.env);
      const res = await fetch(body.dataset.api + '?' + query, { headers: { accept: 'application/json' }, cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const answer = await res.json();
      if (apply(answer)) cursor = answer.cursor;
      else await swapPage();
      body.dataset.updatedAt = String(Date.now());
      showLost(false);
    } catch {
      showLost(true);
    }
    setTimeout(refresh, seconds * 1000);
  };
  setTimeout(refresh, seconds * 1000);
})();
`;

const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="${STATE_LOOKS.up.colour}"/><path d="M4 8.5l2.5 2.5L12 5.5" stroke="#fff" stroke-width="2" fill="none"/></svg>`;

export const STATUS_ASSETS: Readonly<Record<string, StaticAsset>> = {
  'status.css': { contentType: 'text/css; charset=utf-8', body: STYLESHEET },
  'status.js': { contentType: 'text/javascript; charset=utf-8', body: SCRIPT },
  'favicon.svg': { contentType: 'image/svg+xml', body: FAVICON },
};

export const ASSET_PATH = '/status/assets';

import { HISTORY_CODES, HISTORY_LENGTH } from './history.js';
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
  .map(([code, state]) => `.history .${code}{background:${STATE_LOOKS[state].colour}}`)
  .join('');

// One class per run length: a run of n equal results spans n of the strip's columns.
const spanRules = Array.from(
  { length: HISTORY_LENGTH },
  (_, index) => `.s${index + 1}{grid-column:span ${index + 1}}`,
).join('');

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

// The page works without this: it only swaps in a fresh render every refresh_seconds (the server
// renders tiles once, in one place) and says so when the exporter stops answering.
const SCRIPT = `'use strict';
(() => {
  const seconds = Number(document.body.dataset.refreshSeconds) || 5;
  const swapped = ['summary', 'banner', 'surfaces', 'generated'];
  const showLost = (lost) => {
    const note = document.getElementById('connection');
    if (note) note.hidden = !lost;
  };
  const refresh = async () => {
    try {
      const res = await fetch(location.href, { headers: { accept: 'text/html' }, cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const next = new DOMParser().parseFromString(await res.text(), 'text/html');
      for (const id of swapped) {
        const current = document.getElementById(id);
        const fresh = next.getElementById(id);
        if (current && fresh) current.replaceWith(document.adoptNode(fresh));
      }
      document.title = next.title;
      document.body.dataset.updatedAt = String(Date.now());
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

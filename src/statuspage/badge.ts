import { escapeHtml } from './html.js';
import type { EnvironmentView } from './model.js';
import { STATE_LOOKS, type TileState } from './states.js';

// Verdana at 11 px averages about 7 px a character; a badge only needs to be roughly right.
const CHAR_WIDTH = 7;
const PADDING = 10;
const NOT_FOUND_COLOUR = '#24292f';

/** A flat two-part badge: the name on grey, the state in words on its colour. */
export function renderBadge(name: string, state: TileState, value = STATE_LOOKS[state].label): string {
  return badge(name, value, STATE_LOOKS[state].colour, state);
}

/** An environment's worst state, with how many of its surfaces are in it when that is not UP. */
export function renderEnvironmentBadge(view: EnvironmentView): string {
  const { label } = STATE_LOOKS[view.state];
  const value = view.state === 'up' ? label : `${label} ${view.counts[view.state]}/${view.total}`;
  return renderBadge(view.name, view.state, value);
}

export function renderMissingBadge(name: string): string {
  return badge(name, 'not found', NOT_FOUND_COLOUR, 'not-found');
}

function badge(name: string, value: string, colour: string, state: string): string {
  const nameWidth = name.length * CHAR_WIDTH + PADDING;
  const valueWidth = value.length * CHAR_WIDTH + PADDING;
  const title = escapeHtml(`${name}: ${value}`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${nameWidth + valueWidth}" height="20" role="img" aria-label="${title}" data-state="${state}">
<title>${title}</title>
<rect width="${nameWidth}" height="20" fill="#555"/>
<rect x="${nameWidth}" width="${valueWidth}" height="20" fill="${colour}"/>
<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">
<text x="${nameWidth / 2}" y="14">${escapeHtml(name)}</text>
<text x="${nameWidth + valueWidth / 2}" y="14">${escapeHtml(value)}</text>
</g>
</svg>
`;
}

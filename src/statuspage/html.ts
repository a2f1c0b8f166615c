/** Markup already escaped; anything else interpolated into `html` is escaped. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Escapes every interpolated value unless it is Html; arrays are joined, null/undefined/false vanish. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  for (let index = 0; index < values.length; index++) out += fragment(values[index]) + strings[index + 1];
  return new Html(out);
}

function fragment(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) {
    // Concatenation keeps the parts as a rope, flattened once when the page is sent; join() would
    // copy every environment's tiles an extra time.
    let out = '';
    for (const item of value) out += fragment(item);
    return out;
  }
  return escapeHtml(String(value));
}

const SPECIAL = /[&<>"']/;

export function escapeHtml(text: string): string {
  // Most values (names, codes, numbers) need nothing: test before building a new string.
  return SPECIAL.test(text) ? text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`) : text;
}

/** Backtick spans of the code docs as <code>, the rest escaped. */
export function withCode(text: string): Html {
  return new Html(
    text
      .split('`')
      .map((part, index) => (index % 2 === 1 ? `<code>${escapeHtml(part)}</code>` : escapeHtml(part)))
      .join(''),
  );
}

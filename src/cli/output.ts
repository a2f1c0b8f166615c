import type { ProcessIo } from '../app/serve.js';
import { type Env, type MaskableSecrets, maskSecrets, secretsOf } from '../core/env.js';

/** Where a subcommand reads its environment and writes its output; tests pass their own. */
export type CliIo = ProcessIo;

export type CliCommand = (argv: string[], io: CliIo) => Promise<number>;

/** Renders rows as left-aligned columns under a header, the way `kubectl get` does. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** Variables that hold a secret whatever the registry says, so their values are masked even if unused. */
const ALWAYS_SECRET = [
  'HEROKU_API_KEY',
  'CLOUDFLARE_PAGES_READ_TOKEN',
  'CLOUDFLARE_API_TOKEN',
  'FORCE_POLL_TOKEN',
];

/**
 * Replaces every secret value with `***` in text bound for a terminal or a script. Probes never put
 * credentials in their details, but CLI output is pasted into tickets, so this is the backstop.
 */
export class SecretMasker {
  private readonly secrets: MaskableSecrets;

  constructor(env: Env, variables: Iterable<string>) {
    this.secrets = secretsOf(env, new Set([...ALWAYS_SECRET, ...variables]));
  }

  mask(text: string): string {
    return maskSecrets(text, this.secrets);
  }
}

export function formatMilliseconds(seconds: number): string {
  return `${Math.round(seconds * 1000)} ms`;
}

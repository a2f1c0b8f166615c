import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Cell = string | number;

/** A markdown table; numbers are printed as given, so round them before. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string {
  const line = (cells: readonly Cell[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Collects what each scenario prints, for the console and for report.md. */
export class Report {
  private readonly sections: string[] = [];

  constructor(private readonly resultsDir: string) {
    mkdirSync(resultsDir, { recursive: true });
  }

  section(title: string, body: string): void {
    const text = `## ${title}\n\n${body}\n`;
    this.sections.push(text);
    process.stdout.write(`\n${text}\n`);
  }

  /** Raw numbers of one scenario: bench/results/<name>.json. */
  writeJson(name: string, data: unknown): string {
    const file = join(this.resultsDir, `${name}.json`);
    writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
    return file;
  }

  writeMarkdown(header: string): string {
    const file = join(this.resultsDir, 'report.md');
    writeFileSync(file, `${header}\n\n${this.sections.join('\n')}`);
    return file;
  }
}

export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export const kib = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;
export const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

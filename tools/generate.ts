/**
 * Writes every generated file: the alert rules, the Grafana dashboards, the Kubernetes manifests and
 * the README's generated tables. With --check it writes nothing and exits 1 when a committed file differs from what the
 * code generates. One command, so that nothing generated can be forgotten.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { updateGeneratedSections } from './docs/reference.js';
import { kubernetesManifests } from './kubernetes/manifests.js';
import { DEFAULT_ALERT_OPTIONS } from './observability/alerts.js';
import { generateAll } from './observability/generate.js';

const HELP = `Usage: npm run generate -- [--check] [--out-dir DIR] [--runbook-base-url URL] [--job-selector MATCHERS]

  --check                 compare instead of writing; exit 1 when a file is stale
  --out-dir DIR           where to write (default: the repository root)
  --runbook-base-url URL  runbook document the alerts link to (default ${DEFAULT_ALERT_OPTIONS.runbookBaseUrl})
  --job-selector M        label matchers of the exporter's scrape job (default ${DEFAULT_ALERT_OPTIONS.jobSelector})
`;

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const README = 'README.md';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      check: { type: 'boolean', default: false },
      'out-dir': { type: 'string' },
      'runbook-base-url': { type: 'string' },
      'job-selector': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const root = resolve(values['out-dir'] ?? REPO_ROOT);
  const options = {
    ...DEFAULT_ALERT_OPTIONS,
    runbookBaseUrl: values['runbook-base-url'] ?? DEFAULT_ALERT_OPTIONS.runbookBaseUrl,
    jobSelector: values['job-selector'] ?? DEFAULT_ALERT_OPTIONS.jobSelector,
  };
  const files = generateAll(options);
  for (const [path, content] of kubernetesManifests(options)) files.set(path, content);
  // The README is generated in part: its hand-written text comes from the copy being checked or written.
  const readmeSource = await readFile(join(root, README), 'utf8').catch(() =>
    readFile(join(REPO_ROOT, README), 'utf8'),
  );
  files.set(README, updateGeneratedSections(readmeSource));
  const stale: string[] = [];
  for (const [path, content] of files) {
    const target = join(root, path);
    if (values.check) {
      const committed = await readFile(target, 'utf8').catch(() => undefined);
      if (committed !== content) stale.push(path);
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
    process.stdout.write(`wrote ${path}\n`);
  }
  if (stale.length > 0) {
    process.stderr.write(`stale generated files (run \`npm run generate\`): ${stale.join(', ')}\n`);
    return 1;
  }
  if (values.check) process.stdout.write(`${files.size} generated files are up to date\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`generate: ${(err as Error).message}\n`);
    process.exitCode = 2;
  },
);

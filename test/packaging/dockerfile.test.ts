import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_PORT, resolveListenAddress } from '../../src/cli/args.js';
import { REPO_ROOT } from '../cli/support.js';
import { closedPort, startTestExporter } from '../helpers/support.js';

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

interface Stage {
  from: string;
  name: string | undefined;
  steps: Instruction[];
}

function stages(all: Instruction[]): Stage[] {
  const result: Stage[] = [];
  for (const instruction of all) {
    if (instruction.keyword === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      result.push({ from: match?.[1] ?? '', name: match?.[2], steps: [] });
    } else result.at(-1)?.steps.push(instruction);
  }
  return result;
}

/** The words of an exec-form (JSON array) or shell-form command. */
function commandWords(args: string): string[] {
  return args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
}

/** A tiny .dockerignore matcher for the patterns this repository uses: `*`, `name`, `dir/` and `!` negations. */
function ignored(path: string, patterns: string[]): boolean {
  let excluded = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/\/$/, '');
    const matches = pattern === '*' || pattern === '**' || path === pattern || path.startsWith(`${pattern}/`);
    if (matches) excluded = !negate;
  }
  return excluded;
}

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const all = instructions(dockerfile);
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};

describe('Dockerfile', () => {
  const built = stages(all);
  const runtime = built.at(-1);
  const nodeMajor = Number(/^ARG NODE_MAJOR=(\d+)$/m.exec(dockerfile)?.[1]);

  it('is multi-stage on an LTS (even) Node major slim image', () => {
    assert.ok(built.length >= 2, 'a build stage and a runtime stage');
    assert.ok(
      Number.isInteger(nodeMajor) && nodeMajor >= 20 && nodeMajor % 2 === 0,
      `NODE_MAJOR ${nodeMajor}`,
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: this is the Dockerfile's ARG syntax, not a template.
    for (const stage of built) assert.equal(stage.from, 'node:${NODE_MAJOR}-slim');
  });

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const patterns = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    const stageNames = new Set(built.map((stage) => stage.name).filter(Boolean));
    let fromContext = 0;
    for (const stage of built) {
      for (const step of stage.steps.filter((candidate) => candidate.keyword === 'COPY')) {
        const words = step.args.split(/\s+/);
        const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
        const paths = words.filter((word) => !word.startsWith('--'));
        const sources = paths.slice(0, -1);
        assert.ok(sources.length > 0, `COPY ${step.args}`);
        if (from) {
          assert.ok(stageNames.has(from), `COPY --from=${from} names a stage`);
          continue;
        }
        for (const source of sources) {
          fromContext++;
          assert.ok(existsSync(join(REPO_ROOT, source)), `COPY source ${source} exists`);
          assert.ok(
            !ignored(source.replace(/\/$/, ''), patterns),
            `${source} is not excluded by .dockerignore`,
          );
        }
      }
    }
    assert.ok(fromContext >= 4);
    assert.ok(
      ignored('node_modules', patterns) && ignored('surfaces.yaml', patterns) && ignored('.env', patterns),
    );
  });

  it('installs production dependencies only, without scripts, and takes dist/ from the build stage', () => {
    const runs = (runtime?.steps ?? []).filter((step) => step.keyword === 'RUN').map((step) => step.args);
    assert.ok(
      runs.some((run) => /npm ci\b.*--omit=dev/.test(run) && run.includes('--ignore-scripts')),
      runs.join('\n'),
    );
    const copies = (runtime?.steps ?? []).filter((step) => step.keyword === 'COPY').map((step) => step.args);
    assert.ok(
      copies.some((copy) => /^--from=build \/app\/dist \.\/dist$/.test(copy)),
      copies.join('\n'),
    );
    const buildRuns = built[0]?.steps.filter((step) => step.keyword === 'RUN').map((step) => step.args) ?? [];
    assert.ok(buildRuns.includes('npm run build'));
  });

  it('runs as a non-root user, exposes the port, reads the mounted registry, and starts like npm start', () => {
    const steps = runtime?.steps ?? [];
    const user = steps.findLast((step) => step.keyword === 'USER')?.args;
    assert.ok(user && user !== 'root' && user !== '0', `USER ${user}`);
    assert.equal(steps.find((step) => step.keyword === 'EXPOSE')?.args, String(DEFAULT_PORT));
    const env = steps
      .filter((step) => step.keyword === 'ENV')
      .map((step) => step.args)
      .join(' ');
    assert.match(env, /SURFACE_EXPORTER_CONFIG=\/\S+\.yaml/);
    assert.match(env, new RegExp(`LISTEN_ADDRESS=0\\.0\\.0\\.0:${DEFAULT_PORT}`));
    const cmd = steps.findLast((step) => step.keyword === 'CMD');
    assert.ok(cmd);
    assert.equal(commandWords(cmd.args).join(' '), pkg.scripts.start);
  });

  it('has a HEALTHCHECK on /health that passes against a running exporter and fails against nothing', async () => {
    const healthcheck = all.find((step) => step.keyword === 'HEALTHCHECK');
    assert.ok(healthcheck);
    const exec = /CMD (\[.*\])$/.exec(healthcheck.args)?.[1];
    assert.ok(exec, healthcheck.args);
    const [binary, ...args] = JSON.parse(exec) as string[];
    assert.equal(binary, 'node', 'slim images have no curl');
    assert.match(args.join(' '), /\/health/);
    const run = (listen: string) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, args, { env: { LISTEN_ADDRESS: listen }, stdio: 'ignore' });
        child.once('exit', (code) => resolve(code));
      });
    const exporter = await startTestExporter({
      registry: { environments: {} },
      pollerEnabled: false,
    });
    try {
      assert.equal(await run(`127.0.0.1:${exporter.port}`), 0);
    } finally {
      await exporter.stop();
    }
    assert.equal(await run(`127.0.0.1:${await closedPort()}`), 1);
  });
});

describe('Heroku', () => {
  it('has a Procfile whose web process is the npm start command', () => {
    const procfile = readFileSync(join(REPO_ROOT, 'Procfile'), 'utf8').trim().split('\n');
    const web = procfile.find((line) => line.startsWith('web:'));
    assert.equal(web?.slice('web:'.length).trim(), pkg.scripts.start);
  });

  it('listens on all interfaces at the PORT Heroku sets', () => {
    assert.deepEqual(resolveListenAddress(undefined, { PORT: '41234' }), { host: '0.0.0.0', port: 41234 });
  });
});

describe('.ci/run', () => {
  it('runs the unit suite a second time under the Dockerfile Node major, installed aside', () => {
    const script = readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8');
    assert.match(script, /ARG NODE_MAJOR=/, 'reads the major from the Dockerfile');
    assert.match(script, /npm install --prefix "\$image_node_dir" .*"node@\$image_node_major"/);
    // The same script as npm test's (one reporter), with the image's node first on PATH.
    assert.match(script, /PATH="\$image_node_dir\/node_modules\/\.bin:\$PATH" npm run --silent test:node/);
  });
});

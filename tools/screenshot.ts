/**
 * `npm run screenshot`: writes docs/status-page.png, the README's picture of the demo's status page.
 * Starts the built-in demo on loopback, waits until every surface shows its promised state with a
 * few results in its history strip, and photographs the page in Debian's headless Chromium.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../src/core/log.js';
import { DEMO_STATES, startDemo } from '../src/demo/demo.js';
import { startChromium } from '../test/helpers/browser.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'docs/status-page.png' },
    results: { type: 'string', default: '12' },
  },
});
const RESULTS = Number(values.results);

interface StatusJson {
  environments: Array<{
    name: string;
    surfaces: Array<{ surface: string; status: string; code: string | null; history: string }>;
  }>;
}

async function main(): Promise<void> {
  const demo = await startDemo({
    env: {},
    log: createLogger({ level: 'error' }),
    listen: { host: '127.0.0.1', port: 0 },
    pollerEnabled: true,
  });
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const model = (await (await fetch(`${demo.exporter.url}/api/status`)).json()) as StatusJson;
      const tiles = model.environments.flatMap((env) =>
        env.surfaces.map((tile) => ({ ...tile, env: env.name })),
      );
      const ready = Object.entries(DEMO_STATES).every(([key, promised]) => {
        const tile = tiles.find((candidate) => `${candidate.env}/${candidate.surface}` === key);
        return (
          tile?.status === promised.status && tile.code === promised.code && tile.history.length >= RESULTS
        );
      });
      if (ready) break;
      if (Date.now() > deadline) throw new Error('the demo did not reach its promised states within 120 s');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const browser = await startChromium();
    try {
      await browser.page.goto(`${demo.exporter.url}/status`);
      await browser.page.screenshot({ path: values.out, fullPage: true });
    } finally {
      await browser.close();
    }
    process.stdout.write(`wrote ${values.out}\n`);
  } finally {
    await demo.stop();
  }
}

await main();

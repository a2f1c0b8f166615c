/**
 * The floor for scenario 1: plain undici keep-alive GETs over the same targets at the same
 * concurrency, with no scheduling, metrics or logging. Runs as its own process so its CPU
 * (process.cpuUsage: every thread, user + system) is comparable with the exporters'.
 * Usage: node bench/targets/bare-client.ts TARGETS_FILE REQUESTS CONCURRENCY TIMEOUT_MS
 * Prints one JSON line: {"requests", "cpuMs", "wallMs"}.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

const [targetsFile, requestsArg, concurrencyArg, timeoutArg] = process.argv.slice(2);
const targets = readFileSync(targetsFile ?? '', 'utf8')
  .split('\n')
  .filter(Boolean);
const total = Number(requestsArg);
const concurrency = Number(concurrencyArg);
const timeoutMs = Number(timeoutArg);
const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 });

async function run(count: number): Promise<number> {
  let next = 0;
  let completed = 0;
  const worker = async () => {
    while (next < count) {
      const url = targets[next++ % targets.length] as string;
      try {
        const res = await request(url, { dispatcher: agent, signal: AbortSignal.timeout(timeoutMs) });
        await res.body.dump();
      } catch {
        // A hanging target times out; that is part of the mix.
      }
      completed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return completed;
}

// One pass to open connections, as the exporters get a warm-up round.
await run(targets.length);
const cpuBefore = process.cpuUsage();
const wallBefore = performance.now();
const requests = await run(total);
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write(
  `${JSON.stringify({ requests, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wallBefore })}\n`,
);
await agent.close();

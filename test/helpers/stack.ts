import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/**
 * True when the binary is on PATH. Without it the test is skipped with the install line, unless
 * REQUIRE_STACK=1 (CI), where a missing binary fails the test.
 */
export function requireStackOrSkip(t: TestContext, binary: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).status === 0;
  if (found) return true;
  const message = `${binary} not found: apt-get install -y prometheus prometheus-alertmanager`;
  if (process.env.REQUIRE_STACK === '1') throw new Error(`REQUIRE_STACK=1 but ${message}`);
  t.skip(message);
  return false;
}

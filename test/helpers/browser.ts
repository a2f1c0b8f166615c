import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's chromium (`apt-get install chromium`); CHROMIUM_PATH points elsewhere. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export interface BrowserOptions {
  /** Names Chromium resolves to 127.0.0.1 (`--host-resolver-rules`), to open the page as a remote user would. */
  hostnames?: string[];
  /** Default CHROMIUM_PATH. */
  executablePath?: string;
}

/**
 * Starts headless Chromium with a fresh profile. Without the binary the test is skipped with the
 * install line, unless REQUIRE_STACK=1 (CI), where that fails the test.
 */
export async function launchBrowser(
  t: Pick<TestContext, 'skip'>,
  options: BrowserOptions = {},
): Promise<TestBrowser | undefined> {
  const executablePath = options.executablePath ?? CHROMIUM_PATH;
  if (!existsSync(executablePath)) {
    const message = `${executablePath} not found: apt-get install -y chromium`;
    if (process.env.REQUIRE_STACK === '1') throw new Error(`REQUIRE_STACK=1 but ${message}`);
    t.skip(message);
    return undefined;
  }
  return startChromium(options);
}

/** Headless Debian Chromium in a fresh --user-data-dir, removed again by close(). */
export async function startChromium(options: BrowserOptions = {}): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'surface-exporter-chromium-'));
  const args = ['--no-sandbox', '--disable-gpu', '--disable-background-networking'];
  if (options.hostnames?.length)
    args.push(`--host-resolver-rules=${options.hostnames.map((name) => `MAP ${name} 127.0.0.1`).join(', ')}`);
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: options.executablePath ?? CHROMIUM_PATH,
      headless: true,
      args,
      viewport: { width: 1280, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return {
      context,
      page,
      close: async () => {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
}

/** Where a test writes what a person may want to look at afterwards (never committed). */
export function testOutputPath(name: string): string {
  return join(process.env.TEST_OUTPUT_DIR ?? tmpdir(), name);
}

/** `#rrggbb` as getComputedStyle writes it. */
export function cssRgb(hex: string): string {
  const value = Number.parseInt(hex.slice(1), 16);
  return `rgb(${(value >> 16) & 255}, ${(value >> 8) & 255}, ${value & 255})`;
}

/**
 * One computed style property of the first element matching `selector`, read in one task of the
 * page: the page swaps in fresh tiles on its own, and an element found in one step could be gone
 * by the next.
 */
export function computedStyle(page: Page, selector: string, property: string): Promise<string> {
  return page.evaluate(
    ([query, name]) => {
      // Typed loosely: the project compiles without the DOM library.
      const view = globalThis as unknown as {
        document: { querySelector(query: string): unknown };
        getComputedStyle(element: unknown): { getPropertyValue(name: string): string };
      };
      const element = view.document.querySelector(query);
      return element ? view.getComputedStyle(element).getPropertyValue(name) : `no element matches ${query}`;
    },
    [selector, property] as const,
  );
}

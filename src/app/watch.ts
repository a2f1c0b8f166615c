import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';

export interface ConfigWatcherOptions {
  log: Logger;
  /** Editors write a file in several steps; one reload follows the last of them. */
  debounceMs?: number;
  /** How often to look for the file again while it is missing (between a delete and a rename). */
  rearmIntervalMs?: number;
}

export interface ConfigWatcher {
  close(): void;
}

/**
 * Calls onChange when the file's content changes. Editors and Kubernetes ConfigMaps replace the
 * file rather than write it in place, which leaves a watch on the old inode; so the watch is
 * re-armed on the path after every rename, and changes are judged by content, not by events.
 */
export function watchConfigFile(
  file: string,
  onChange: () => Promise<unknown>,
  options: ConfigWatcherOptions,
): ConfigWatcher {
  const debounceMs = options.debounceMs ?? 300;
  const rearmIntervalMs = options.rearmIntervalMs ?? 250;
  const log = options.log.child({ component: 'ConfigWatcher', file });
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let rearm: NodeJS.Timeout | undefined;
  let closed = false;
  let applying: Promise<void> = Promise.resolve();
  let lastDigest: string | undefined;

  const digestOf = async (): Promise<string | undefined> => {
    try {
      return createHash('sha256')
        .update(await readFile(file))
        .digest('hex');
    } catch {
      // Missing for a moment during a replace; the re-armed watch triggers another look.
      return undefined;
    }
  };

  const check = () => {
    applying = applying.then(async () => {
      if (closed) return;
      const digest = await digestOf();
      if (digest === undefined || digest === lastDigest) return;
      lastDigest = digest;
      log.info({ event: 'config_changed' }, 'registry file changed; reloading');
      try {
        await onChange();
      } catch (err) {
        log.error({ event: 'config_reload_failed', err }, 'reload after a file change failed');
      }
    });
  };

  const schedule = () => {
    clearTimeout(debounce);
    debounce = setTimeout(check, debounceMs);
    debounce.unref();
  };

  const arm = () => {
    if (closed) return;
    try {
      watcher = watch(file, { persistent: false }, (eventType) => {
        schedule();
        if (eventType === 'rename') rearmSoon();
      });
      watcher.on('error', () => rearmSoon());
    } catch {
      watcher = undefined;
      rearm = setTimeout(arm, rearmIntervalMs);
      rearm.unref();
      return;
    }
    // The file may have changed while nothing watched it.
    schedule();
  };

  const rearmSoon = () => {
    watcher?.close();
    watcher = undefined;
    clearTimeout(rearm);
    rearm = setTimeout(arm, rearmIntervalMs);
    rearm.unref();
  };

  void digestOf().then((digest) => {
    lastDigest ??= digest;
    arm();
  });

  return {
    close() {
      closed = true;
      clearTimeout(debounce);
      clearTimeout(rearm);
      watcher?.close();
    },
  };
}

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** A CA bundle is a few KiB; a file far larger is not one, and reading it would cost the probe. */
export const MAX_CA_FILE_BYTES = 1024 * 1024;

export interface CaBundle {
  pem: string;
  /** Changes when the file is rewritten, so a rotated CA gets a pool of its own. */
  version: number;
}

/**
 * Reads surfaces' ca_files off the event loop: a FIFO or a file on a hung mount used to block a
 * synchronous read, and the whole exporter with it. A FIFO or a device is refused, the size is
 * capped, and a read still pending for a file is joined, never repeated, so a hung mount holds
 * one thread-pool thread, not one per probe.
 */
export class CaFiles {
  private readonly pending = new Map<string, Promise<CaBundle>>();
  private readonly known = new Map<string, CaBundle>();

  read(file: string): Promise<CaBundle> {
    let reading = this.pending.get(file);
    if (!reading) {
      reading = this.load(file).finally(() => this.pending.delete(file));
      this.pending.set(file, reading);
    }
    return reading;
  }

  private async load(file: string): Promise<CaBundle> {
    // Non-blocking, so opening a FIFO with no writer returns at once and fails the type check.
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTREGULAR' });
      if (stats.size > MAX_CA_FILE_BYTES) throw Object.assign(new Error('too large'), { code: 'EFBIG' });
      const known = this.known.get(file);
      if (known && known.version === stats.mtimeMs) return known;
      const bundle = { pem: await handle.readFile('utf8'), version: stats.mtimeMs };
      this.known.set(file, bundle);
      return bundle;
    } finally {
      await handle.close();
    }
  }
}

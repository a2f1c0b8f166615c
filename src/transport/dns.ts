import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

/**
 * What net.connect calls to resolve a host: one address, or every address when `all` is set
 * (Happy Eyeballs, on by default in Node 20).
 */
export type LookupFunction = (
  hostname: string,
  options: LookupOneOptions | LookupAllOptions | number,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

export interface DnsCacheOptions {
  /** Per query try; c-ares sends a second try after it. Below the default probe timeout twice over. */
  timeoutMs?: number;
  tries?: number;
  /** Name servers (`ip` or `ip:port`); default: the system's (resolv.conf). */
  servers?: string[];
  hostsFile?: string;
  now?: () => number;
}

/** Answers are reused for their TTL, within these bounds: a 0 s TTL would resolve on every probe. */
const MIN_TTL_MS = 1_000;
const MAX_TTL_MS = 300_000;
/** A name that failed is not asked again for this long: every probe of it fails the same way meanwhile. */
const FAILURE_TTL_MS = 5_000;

interface Cached {
  addresses: LookupAddress[];
  error?: NodeJS.ErrnoException;
  expiresAt: number;
}

/**
 * Resolves host names for every connection the probes make, without libuv's thread pool:
 * `dns.lookup` (getaddrinfo) blocks one of its 4 threads per query, so 200 names whose server never
 * answers starved every other name, `localhost` included. Here /etc/hosts is read at start, other
 * names go to c-ares (non-blocking sockets on the event loop) with a timeout, answers are cached
 * for their TTL, and a name whose lookup is still pending is never asked again: callers join it.
 */
export class DnsCache {
  private readonly resolver: Resolver;
  private readonly hosts: Map<string, LookupAddress[]>;
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<Cached>>();
  private readonly now: () => number;
  private queries = 0;

  constructor(options: DnsCacheOptions = {}) {
    this.resolver = new Resolver({ timeout: options.timeoutMs ?? 2_500, tries: options.tries ?? 2 });
    if (options.servers) this.resolver.setServers(options.servers);
    this.hosts = readHostsFile(options.hostsFile ?? '/etc/hosts');
    this.now = options.now ?? (() => performance.now());
  }

  /** Lookups sent to the name servers so far (one per name while it is pending). */
  get queriesSent(): number {
    return this.queries;
  }

  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const all = typeof options === 'object' && options.all === true;
    const family = typeof options === 'number' ? options : (options.family ?? 0);
    this.resolve(hostname).then(
      (found) => {
        const wanted = found.filter((entry) => family === 0 || entry.family === family);
        if (wanted.length === 0) {
          callback(dnsError(hostname, 'ENOTFOUND', `no IPv${family} address`), all ? [] : '');
          return;
        }
        if (all) callback(null, wanted);
        else callback(null, (wanted[0] as LookupAddress).address, (wanted[0] as LookupAddress).family);
      },
      (err: NodeJS.ErrnoException) => callback(err, all ? [] : ''),
    );
  };

  /** Every address of `hostname`, IPv4 first; rejects with an ENOTFOUND / EAI_AGAIN error as getaddrinfo would. */
  async resolve(hostname: string): Promise<LookupAddress[]> {
    const family = isIP(hostname);
    if (family !== 0) return [{ address: hostname, family }];
    const name = hostname.toLowerCase().replace(/\.$/, '');
    const fromHosts = this.hosts.get(name);
    if (fromHosts) return fromHosts;
    // RFC 6761: localhost names are loopback and are never sent to a name server.
    if (name === 'localhost' || name.endsWith('.localhost'))
      return [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ];
    const cached = this.cache.get(name);
    const entry = cached && cached.expiresAt > this.now() ? cached : await this.query(name);
    if (entry.error) throw entry.error;
    return entry.addresses;
  }

  private query(name: string): Promise<Cached> {
    let pending = this.pending.get(name);
    if (!pending) {
      this.queries++;
      pending = this.ask(name).finally(() => this.pending.delete(name));
      this.pending.set(name, pending);
    }
    return pending;
  }

  private async ask(name: string): Promise<Cached> {
    const [v4, v6] = await Promise.allSettled([
      this.resolver.resolve4(name, { ttl: true }),
      this.resolver.resolve6(name, { ttl: true }),
    ]);
    const records = [
      ...(v4.status === 'fulfilled' ? v4.value.map((record) => ({ ...record, family: 4 })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((record) => ({ ...record, family: 6 })) : []),
    ];
    let entry: Cached;
    if (records.length > 0) {
      const ttlMs = Math.min(...records.map((record) => record.ttl * 1000));
      entry = {
        addresses: records.map(({ address, family }) => ({ address, family })),
        expiresAt: this.now() + Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, ttlMs)),
      };
    } else {
      const reason = v4.status === 'rejected' ? (v4.reason as NodeJS.ErrnoException) : undefined;
      entry = { addresses: [], error: asLookupError(name, reason), expiresAt: this.now() + FAILURE_TTL_MS };
    }
    this.cache.set(name, entry);
    return entry;
  }
}

/** c-ares codes mapped onto getaddrinfo's, which the transport's failure classifier knows. */
function asLookupError(hostname: string, reason: NodeJS.ErrnoException | undefined): NodeJS.ErrnoException {
  const cause = typeof reason?.code === 'string' ? reason.code : 'ENODATA';
  const permanent = cause === 'ENOTFOUND' || cause === 'ENODATA' || cause === 'ENONAME';
  return dnsError(hostname, permanent ? 'ENOTFOUND' : 'EAI_AGAIN', cause);
}

function dnsError(hostname: string, code: string, cause: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`DNS lookup of ${hostname} failed (${cause})`), {
    code,
    syscall: 'getaddrinfo',
    hostname,
  });
}

/** The hosts file's names and addresses; a missing or unreadable file is an empty one. */
function readHostsFile(file: string): Map<string, LookupAddress[]> {
  const hosts = new Map<string, LookupAddress[]>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return hosts;
  }
  for (const line of text.split('\n')) {
    const [address, ...names] = (line.split('#')[0] ?? '').trim().split(/\s+/);
    const family = address ? isIP(address) : 0;
    if (!address || family === 0) continue;
    for (const name of names) {
      const key = name.toLowerCase();
      const known = hosts.get(key) ?? [];
      if (!known.some((entry) => entry.address === address)) known.push({ address, family });
      hosts.set(key, known);
    }
  }
  // IPv4 first, as getaddrinfo orders them for most hosts files.
  for (const entries of hosts.values()) entries.sort((a, b) => a.family - b.family);
  return hosts;
}

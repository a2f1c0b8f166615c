import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingHttpHeaders } from 'node:http';
import type { LookupFunction as NetLookupFunction, Socket } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import type { Deadline } from '../core/deadline.js';
import { boundedMemo } from '../core/memo.js';
import type { PhaseTimings, TlsPeer } from '../core/result.js';
import type { TraceParent } from '../core/trace.js';
import { type CaBundle, CaFiles } from './caFiles.js';
import { type ConnectionFacts, describeTlsFailure, measureConnection, secondsBetween } from './connection.js';
import { DnsCache } from './dns.js';
import { redactUrl } from './redact.js';

export type TransportFailure = 'timeout' | 'refused' | 'reset' | 'dns' | 'tls' | 'other';

export interface HttpRequest {
  url: string;
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  /** Sent as is; the caller bounds its size. */
  body?: string;
  /** Bytes of body kept; the rest is discarded and the connection closed. */
  maxBodyBytes?: number;
  /**
   * When the request must be over. undici's header and body timeouts are off; its connect timeout
   * (10 s) still bounds a TCP/TLS connect, so a connect slower than that fails first.
   */
  deadline: Deadline;
  /** PEM bundle to trust for this request's TLS connection (a surface's ca_file). */
  caFile?: string;
  /**
   * A connection of its own, closed after the response: DNS, TCP connect and TLS happen every time
   * (a surface's fresh_connection). Costs more than reuse; see the README.
   */
  freshConnection?: boolean;
}

export interface HttpResponse {
  kind: 'response';
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** True when the body was larger than maxBodyBytes and was cut. */
  truncated: boolean;
  durationSeconds: number;
  /** Where the time went; resolve, connect and tls are 0 on a reused connection. */
  phases?: PhaseTimings;
  /** The chain of an HTTPS connection, read when the connection was made. */
  tls?: TlsPeer;
}

export interface HttpFailure {
  kind: 'failure';
  failure: TransportFailure;
  message: string;
  durationSeconds: number;
}

export type HttpOutcome = HttpResponse | HttpFailure;

/** What the CLI's `probe` prints and traces record: one entry per outgoing call. */
export interface HttpExchange {
  method: string;
  url: string;
  outcome: HttpOutcome;
}

export type ExchangeObserver = (exchange: HttpExchange) => void;

/**
 * Wraps an outgoing call, e.g. in a tracing span under `parent`. `run` performs the call; the
 * wrapper must return its outcome unchanged.
 */
export type RequestInterceptor = (
  request: { method: string; url: string },
  run: () => Promise<HttpOutcome>,
  parent: TraceParent,
) => Promise<HttpOutcome>;

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export interface HttpClientOptions {
  /** Keep-alive connections per origin; reuse is what keeps a probe cheap (see README). */
  connectionsPerOrigin?: number;
  interceptor?: RequestInterceptor;
  userAgent?: string;
  /** How host names are resolved; default: a DnsCache on the system's name servers. */
  dns?: DnsCache;
}

/**
 * One shared keep-alive pool for every probe (and pools of their own for fresh connections and
 * private CAs). It never follows redirects: a redirect is evidence (e.g. a Cloudflare Access
 * login), not something to chase.
 */
export class HttpClient {
  /** The pool nearly every request uses: kept-alive connections, system CAs. */
  private agent: Agent;
  /**
   * Pools for fresh connections and for surfaces' ca_files, keyed by both. A ca_file's key holds
   * its modification time, so a rotated CA file is picked up without a restart.
   */
  private readonly otherPools = new Map<string, Agent>();
  private interceptor: RequestInterceptor | undefined;
  private readonly userAgent: string;
  private connectionsPerOrigin: number;
  private readonly dns: DnsCache;
  private readonly caFiles = new CaFiles();
  /** What was learnt about each connection when it was made: its TLS chain and connect timings. */
  private readonly connections = new WeakMap<Socket, ConnectionFacts>();
  /**
   * The exchange whose request undici is writing right now. undici hands a handler no socket, but
   * it starts a request and publishes `sendHeaders` with the socket in one synchronous step, so
   * the socket a message names belongs to the exchange that started last.
   */
  private writing: CappedExchange | undefined;
  /** One function for every exchange, so a request allocates no closure to say it is being written. */
  private readonly writingStarted = (exchange: CappedExchange): void => {
    this.writing = exchange;
  };
  private readonly onSendHeaders = (message: unknown): void => {
    const exchange = this.writing;
    if (!exchange) return;
    this.writing = undefined;
    const { socket } = message as { socket: Socket };
    exchange.attach(this.connections.get(socket));
  };

  constructor(options: HttpClientOptions = {}) {
    this.connectionsPerOrigin = options.connectionsPerOrigin ?? 16;
    this.dns = options.dns ?? new DnsCache();
    this.agent = this.newAgent();
    this.interceptor = options.interceptor;
    this.userAgent = options.userAgent ?? 'surface-exporter';
    subscribe('undici:client:sendHeaders', this.onSendHeaders);
  }

  setInterceptor(interceptor: RequestInterceptor | undefined): void {
    this.interceptor = interceptor;
  }

  /**
   * Sizes the keep-alive pool: as many connections per origin as probes may be in flight, since many
   * surfaces often share one origin (a Heroku router, a Pages edge) and a smaller pool would queue
   * probes past their deadline. A new size takes a new pool; the old one closes once idle.
   */
  setConnectionsPerOrigin(connections: number): void {
    if (connections === this.connectionsPerOrigin) return;
    this.connectionsPerOrigin = connections;
    const previous = [this.agent, ...this.otherPools.values()];
    this.agent = this.newAgent();
    this.otherPools.clear();
    for (const agent of previous) void agent.close();
  }

  /** Sends one request; `trace` is the probe's trace, so a tracing interceptor nests the call under it. */
  async send(req: HttpRequest, observe?: ExchangeObserver, trace?: TraceParent): Promise<HttpOutcome> {
    const method = req.method ?? 'GET';
    const outcome = this.interceptor
      ? await this.interceptor({ method, url: req.url }, () => this.perform(req, method), trace)
      : await this.perform(req, method);
    observe?.({ method, url: redactUrl(req.url), outcome });
    return outcome;
  }

  async close(): Promise<void> {
    unsubscribe('undici:client:sendHeaders', this.onSendHeaders);
    await Promise.all([this.agent.close(), ...[...this.otherPools.values()].map((agent) => agent.close())]);
  }

  private newAgent(options: { ca?: string[] } = {}): Agent {
    const connector = buildConnector({
      ...(options.ca ? { ca: options.ca } : {}),
      // A resumed TLS session may skip the chain, and every connection must show its chain
      // (certificate expiry). Connections are kept alive, so full handshakes stay rare.
      maxCachedSessions: 0,
      // Off libuv's thread pool: see DnsCache.
      lookup: this.dns.lookup as unknown as NetLookupFunction,
    });
    const connections = this.connections;
    const connect: buildConnector.connector = (opts, callback) => {
      const started = performance.now();
      // undici's types say void; its connector returns the socket it is connecting.
      const socket = (connector as unknown as (...args: unknown[]) => Socket)(
        opts,
        (err: Error | null, connected: Socket | null) => {
          if (connected) connections.set(connected, measureConnection(connected, timings));
          (callback as (err: Error | null, socket: Socket | null) => void)(err, connected);
        },
      );
      const timings = { started, lookedUp: 0, connected: 0 };
      socket.once('lookup', () => {
        timings.lookedUp = performance.now();
      });
      socket.once('connect', () => {
        timings.connected = performance.now();
      });
      return socket;
    };
    return new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
      connections: this.connectionsPerOrigin,
      // No header or body timeouts: every request carries its Deadline. The connect timeout stays at
      // undici's 10 s, which bounds a connect left running after its probe gave up.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect,
    });
  }

  /**
   * The pool for a request: the shared one, or one for fresh connections and for a surface's
   * ca_file (the system roots plus the file's CAs).
   */
  private dispatcherFor(fresh: boolean, ca?: { file: string; bundle: CaBundle }): Dispatcher {
    if (!ca && !fresh) return this.agent;
    const key = `${fresh ? 'fresh' : 'kept-alive'}${ca ? `:${ca.file}:${ca.bundle.version}` : ''}`;
    let pool = this.otherPools.get(key);
    if (!pool) {
      pool = this.newAgent(ca ? { ca: [...rootCertificates, ca.bundle.pem] } : {});
      this.otherPools.set(key, pool);
    }
    return pool;
  }

  private perform(req: HttpRequest, method: string): Promise<HttpOutcome> {
    return new Promise((resolve) => {
      const exchange = new CappedExchange(
        req.deadline,
        req.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
        resolve,
        this.writingStarted,
      );
      // Already settled as a timeout: nothing to send.
      if (req.deadline.expired) return;
      const fresh = req.freshConnection ?? false;
      const caFile = req.caFile;
      if (!caFile) {
        this.dispatch(this.dispatcherFor(fresh), req, method, exchange);
        return;
      }
      // Off the event loop (see CaFiles); a read that outlasts the deadline leaves the probe a timeout.
      this.caFiles.read(caFile).then(
        (bundle) => {
          if (!req.deadline.expired)
            this.dispatch(this.dispatcherFor(fresh, { file: caFile, bundle }), req, method, exchange);
        },
        (err: unknown) => exchange.onResponseError(undefined, new CaFileError(caFile, err)),
      );
    });
  }

  private dispatch(dispatcher: Dispatcher, req: HttpRequest, method: string, exchange: CappedExchange): void {
    try {
      const target = requestTarget(req.url);
      const options: Dispatcher.DispatchOptions = {
        origin: target.origin,
        path: target.path,
        method,
        headers: { 'user-agent': this.userAgent, ...req.headers },
      };
      if (req.body !== undefined) options.body = req.body;
      if (req.freshConnection) options.reset = true;
      dispatcher.dispatch(options, exchange);
    } catch (err) {
      exchange.onResponseError(undefined, err as Error);
    }
  }
}

/**
 * Origin and path of a URL, parsed once per URL: a surface requests the same one every probe.
 * Bounded, since a provider's paged reads carry cursors that change. Throws on an invalid URL.
 */
const requestTarget = boundedMemo((raw): { origin: string; path: string } => {
  const url = new URL(raw);
  return { origin: url.origin, path: `${url.pathname}${url.search}` };
}, 20_000);

/** Why an exchange ended its own request: the body cap, or its deadline passing first. */
class ExchangeEnded extends Error {}

/**
 * One request, collected straight from undici's dispatcher: the status, the headers and at most
 * maxBodyBytes of body. undici's request() would wrap every response in a Readable stream and an
 * AsyncResource, and listen on an AbortSignal; at thousands of probes a second that was most of
 * undici's cost (bench/RESULTS.md). Settles exactly once, on whichever comes first: the end of
 * the body, the cap, an error, or the deadline.
 */
class CappedExchange implements Dispatcher.DispatchHandler {
  private readonly started = performance.now();
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private settled = false;
  private ended = false;
  private connection: ConnectionFacts | undefined;
  private sentAt = 0;
  private firstByteAt = 0;

  constructor(
    private readonly deadline: Deadline,
    private readonly maxBodyBytes: number,
    private readonly settle: (outcome: HttpOutcome) => void,
    private readonly writingStarted: (exchange: CappedExchange) => void,
  ) {
    deadline.watch(this.abandon);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Abandoned while queued for a connection: the request never goes out. undici closes the
    // connection it was given, so each abandoned request costs the pool a reconnect.
    if (this.settled) {
      controller.abort(new ExchangeEnded('request abandoned'));
      return;
    }
    this.sentAt = performance.now();
    this.writingStarted(this);
  }

  /** The connection the request went out on; the first request on it carries its connect timings. */
  attach(connection: ConnectionFacts | undefined): void {
    this.connection = connection;
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (this.firstByteAt === 0) this.firstByteAt = performance.now();
    // 1xx answers are informational; the final status follows.
    if (status < 200) return;
    this.status = status;
    this.headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    if (this.size + chunk.length > this.maxBodyBytes) {
      this.chunks.push(chunk.subarray(0, this.maxBodyBytes - this.size));
      this.respond(true);
      // Drops the connection rather than draining an endless body, unless the whole response was
      // already read: then it ends in this same parser run and the connection stays reusable.
      queueMicrotask(() => {
        if (!this.ended) controller.abort(new ExchangeEnded('response body cap reached'));
      });
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  onResponseEnd(): void {
    this.ended = true;
    this.respond(false);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.settled) return;
    this.finish({
      kind: 'failure',
      failure: this.deadline.expired ? 'timeout' : classifyTransportError(err),
      message: describeTransportError(err, this.deadline),
      durationSeconds: this.elapsed(),
    });
  }

  private phases(now: number): PhaseTimings {
    const connection = this.connection;
    // The first request on a connection pays for its DNS, TCP and TLS; later ones ride on it.
    const fresh = connection !== undefined && !connection.used;
    if (connection) connection.used = true;
    const firstByteAt = this.firstByteAt || now;
    return {
      resolve: fresh ? connection.resolveSeconds : 0,
      connect: fresh ? connection.connectSeconds : 0,
      tls: fresh ? connection.tlsSeconds : 0,
      processing: this.sentAt ? secondsBetween(this.sentAt, firstByteAt) : 0,
      transfer: secondsBetween(firstByteAt, now),
    };
  }

  private readonly abandon = (): void => {
    if (this.settled) return;
    this.finish({
      kind: 'failure',
      failure: 'timeout',
      message: describeTransportError(undefined, this.deadline),
      durationSeconds: this.elapsed(),
    });
    this.controller?.abort(new ExchangeEnded('request abandoned'));
  };

  private respond(truncated: boolean): void {
    if (this.settled) return;
    const now = performance.now();
    const response: HttpResponse = {
      kind: 'response',
      status: this.status,
      headers: this.headers,
      body: this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks),
      truncated,
      durationSeconds: (now - this.started) / 1000,
      phases: this.phases(now),
    };
    if (this.connection?.tls) response.tls = this.connection.tls;
    this.finish(response);
  }

  private finish(outcome: HttpOutcome): void {
    this.settled = true;
    this.deadline.unwatch(this.abandon);
    this.settle(outcome);
  }

  private elapsed(): number {
    return (performance.now() - this.started) / 1000;
  }
}

/** A surface's ca_file could not be read: a TLS setup problem, reported as such. */
class CaFileError extends Error {
  readonly code = 'ERR_TLS_CA_FILE';
  constructor(caFile: string, cause: unknown) {
    super(`ca_file ${caFile} is not readable (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`);
  }
}

const TLS_ERROR_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current && typeof current === 'object' && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

export function classifyTransportError(err: unknown): TransportFailure {
  const codes = errorCodes(err);
  if (codes.some((code) => code === 'ECONNREFUSED')) return 'refused';
  if (codes.some((code) => code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME'))
    return 'dns';
  if (
    codes.some(
      (code) => TLS_ERROR_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS'),
    )
  )
    return 'tls';
  if (codes.some((code) => code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT'))
    return 'timeout';
  if (
    codes.some(
      (code) =>
        code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED',
    )
  )
    return 'reset';
  return 'other';
}

const FAILURE_LABELS: Record<TransportFailure, string> = {
  timeout: 'timed out',
  refused: 'connection refused',
  reset: 'connection reset',
  dns: 'DNS lookup failed',
  tls: 'TLS handshake failed',
  other: 'request failed',
};

function describeTransportError(err: unknown, deadline: Deadline): string {
  if (deadline.expired) return 'no answer before the probe deadline';
  const message = err instanceof Error ? err.message : String(err);
  const failure = classifyTransportError(err);
  const tlsKind = failure === 'tls' ? describeTlsFailure(errorCodes(err)) : undefined;
  return `${FAILURE_LABELS[failure]}${tlsKind ? ` (${tlsKind})` : ''}: ${message}`;
}

export function headerValue(headers: HttpResponse['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

import { readFileSync, statSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher, request } from 'undici';
import { redactUrl } from './redact.js';

export type TransportFailure = 'timeout' | 'refused' | 'reset' | 'dns' | 'tls' | 'other';

export interface HttpRequest {
  url: string;
  method?: 'GET' | 'HEAD' | 'POST';
  headers?: Record<string, string>;
  /** Bytes of body kept; the rest is discarded and the connection closed. */
  maxBodyBytes?: number;
  signal: AbortSignal;
  /** PEM bundle to trust for this request's TLS connection (a surface's ca_file). */
  caFile?: string;
}

export interface HttpResponse {
  kind: 'response';
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** True when the body was larger than maxBodyBytes and was cut. */
  truncated: boolean;
  durationSeconds: number;
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
 * Wraps an outgoing call, e.g. in a tracing span. `run` performs the call; the wrapper must
 * return its outcome unchanged.
 */
export type RequestInterceptor = (
  request: { method: string; url: string },
  run: () => Promise<HttpOutcome>,
) => Promise<HttpOutcome>;

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export interface HttpClientOptions {
  /** Keep-alive connections per origin; reuse is what keeps a probe cheap (see README). */
  connectionsPerOrigin?: number;
  interceptor?: RequestInterceptor;
  userAgent?: string;
}

/**
 * One shared connection pool for every probe. It never follows redirects: a redirect is
 * evidence (e.g. a Cloudflare Access login), not something to chase.
 */
export class HttpClient {
  private agent: Agent;
  /** Keyed by path and modification time, so a rotated CA file is picked up without a restart. */
  private readonly agentsByCaFile = new Map<string, Agent>();
  private interceptor: RequestInterceptor | undefined;
  private readonly userAgent: string;
  private connectionsPerOrigin: number;

  constructor(options: HttpClientOptions = {}) {
    this.connectionsPerOrigin = options.connectionsPerOrigin ?? 16;
    this.agent = this.newAgent();
    this.interceptor = options.interceptor;
    this.userAgent = options.userAgent ?? 'surface-exporter';
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
    const previous = [this.agent, ...this.agentsByCaFile.values()];
    this.agent = this.newAgent();
    this.agentsByCaFile.clear();
    for (const agent of previous) void agent.close();
  }

  async send(req: HttpRequest, observe?: ExchangeObserver): Promise<HttpOutcome> {
    const method = req.method ?? 'GET';
    const run = () => this.perform(req, method);
    const outcome = this.interceptor ? await this.interceptor({ method, url: req.url }, run) : await run();
    observe?.({ method, url: redactUrl(req.url), outcome });
    return outcome;
  }

  async close(): Promise<void> {
    await Promise.all([
      this.agent.close(),
      ...[...this.agentsByCaFile.values()].map((agent) => agent.close()),
    ]);
  }

  private newAgent(connect?: { ca: string[] }): Agent {
    return new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
      connections: this.connectionsPerOrigin,
      // No undici timeouts: every request carries the probe's AbortSignal, which is the one deadline.
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(connect ? { connect } : {}),
    });
  }

  /** The pool for a surface's ca_file: the system roots plus the file's CAs. Throws CaFileError. */
  private dispatcherFor(caFile: string | undefined): Dispatcher {
    if (!caFile) return this.agent;
    let key: string;
    let pem: string;
    try {
      key = `${caFile}:${statSync(caFile).mtimeMs}`;
      const cached = this.agentsByCaFile.get(key);
      if (cached) return cached;
      pem = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new CaFileError(caFile, err);
    }
    const agent = this.newAgent({ ca: [...rootCertificates, pem] });
    this.agentsByCaFile.set(key, agent);
    return agent;
  }

  private async perform(req: HttpRequest, method: string): Promise<HttpOutcome> {
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    const maxBodyBytes = req.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    try {
      const res = await request(req.url, {
        method,
        headers: { 'user-agent': this.userAgent, ...req.headers },
        signal: req.signal,
        dispatcher: this.dispatcherFor(req.caFile),
      });
      const { body, truncated } = await readCapped(res.body, maxBodyBytes);
      return {
        kind: 'response',
        status: res.statusCode,
        headers: res.headers,
        body,
        truncated,
        durationSeconds: elapsed(),
      };
    } catch (err) {
      return {
        kind: 'failure',
        failure: req.signal.aborted ? 'timeout' : classifyTransportError(err),
        message: describeTransportError(err, req.signal),
        durationSeconds: elapsed(),
      };
    }
  }
}

async function readCapped(
  body: Dispatcher.ResponseData['body'],
  maxBytes: number,
): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    if (size + buffer.length > maxBytes) {
      chunks.push(buffer.subarray(0, maxBytes - size));
      // Destroying the stream drops the connection instead of draining an endless body.
      body.destroy();
      return { body: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(buffer);
    size += buffer.length;
  }
  return { body: Buffer.concat(chunks), truncated: false };
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

function describeTransportError(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'no answer before the probe deadline';
  const message = err instanceof Error ? err.message : String(err);
  return `${FAILURE_LABELS[classifyTransportError(err)]}: ${message}`;
}

export function headerValue(headers: HttpResponse['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

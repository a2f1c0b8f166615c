import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Every key an official response type declares, required and without its index signature. Some
 * vendor types (Heroku's, generated from its JSON schema) mark every field optional and allow any
 * other key, so a builder checked against them as they are would catch no drift at all: checked
 * against this, a dropped or misspelled field fails typecheck.
 */
export type Documented<T> = { [K in keyof T as string extends K ? never : K]-?: T[K] };

/** Bodies a broken proxy, captive portal or buggy provider could send where JSON is expected. */
export type MalformedBody = 'html' | 'truncated_json' | 'wrong_types' | 'huge';

export const HUGE_BODY_BYTES = 10 * 1024 * 1024;

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

export interface FakeReply {
  status: number;
  headers?: Record<string, string>;
  /** An object or array is sent as JSON; a string or Buffer as is. */
  body?: unknown;
}

/** What a fake answers; `drop` resets the connection without any HTTP answer. */
export type FakeAnswer = FakeReply | 'drop' | Promise<FakeReply | 'drop'>;

export interface FakeHttpOptions {
  handle(request: FakeRequest, raw: IncomingMessage, res: ServerResponse): FakeAnswer | 'handled';
  /** The fake's body with the documented keys but wrong value types, for `wrong_types`. */
  wrongTypes?(request: FakeRequest): unknown;
}

/** The scripting every fake shares: latency, malformed bodies, refusing connections and call counts. */
export interface FakeControls {
  readonly url: string;
  /** Requests received on a path (no query string), or on every path. */
  calls(path?: string): number;
  /** Requests received on paths starting with a prefix. */
  callsUnder(prefix: string): number;
  resetCalls(): void;
  setLatency(ms: number): void;
  /** Answers 200 with this kind of bad body on paths starting with `pathPrefix` (default all), until cleared. */
  setMalformed(kind: MalformedBody | undefined, pathPrefix?: string): void;
  /** Closes the listening socket, so connections are refused, until acceptConnections(). */
  refuseConnections(): Promise<void>;
  acceptConnections(): Promise<void>;
  close(): Promise<void>;
}

/** The FakeControls of a fake that is one FakeHttp server, bound so they can be spread into the fake's own object. */
export function controlsOf(server: FakeHttp): FakeControls {
  return {
    url: server.url,
    calls: (path) => server.calls(path),
    callsUnder: (prefix) => server.callsUnder(prefix),
    resetCalls: () => server.resetCalls(),
    setLatency: (ms) => server.setLatency(ms),
    setMalformed: (kind, prefix) => server.setMalformed(kind, prefix),
    refuseConnections: () => server.refuseConnections(),
    acceptConnections: () => server.acceptConnections(),
    close: () => server.close(),
  };
}

/**
 * A loopback HTTP server for a fake cloud. Bound to 127.0.0.1 on an ephemeral port; `close` ends
 * every connection and pending delayed answer so that a test never hangs on teardown.
 */
export class FakeHttp implements FakeControls {
  readonly url: string;
  private readonly callsByPath = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sockets = new Set<Socket>();
  private latencyMs = 0;
  private malformed: { kind: MalformedBody; pathPrefix: string } | undefined;
  private listening = true;
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: FakeHttpOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  static async start(options: FakeHttpOptions): Promise<FakeHttp> {
    let fake: FakeHttp | undefined;
    const server = createServer((req, res) => fake?.dispatch(req, res));
    // A fake must not keep a slow client around longer than a real edge would.
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await listen(server, 0);
    fake = new FakeHttp(server, (server.address() as AddressInfo).port, options);
    return fake;
  }

  calls(path?: string): number {
    if (path === undefined) return [...this.callsByPath.values()].reduce((sum, count) => sum + count, 0);
    return this.callsByPath.get(path) ?? 0;
  }

  callsUnder(prefix: string): number {
    let total = 0;
    for (const [path, count] of this.callsByPath) if (path.startsWith(prefix)) total += count;
    return total;
  }

  resetCalls(): void {
    this.callsByPath.clear();
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  setMalformed(kind: MalformedBody | undefined, pathPrefix = '/'): void {
    this.malformed = kind ? { kind, pathPrefix } : undefined;
  }

  async refuseConnections(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async acceptConnections(): Promise<void> {
    if (this.listening || this.closed) return;
    await listen(this.server, this.port);
    this.listening = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.refuseConnections();
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    const parsed = new URL(req.url ?? '/', 'http://fake.invalid');
    const request: FakeRequest = {
      method: req.method ?? 'GET',
      path: parsed.pathname,
      query: parsed.searchParams,
      headers: req.headers,
    };
    this.callsByPath.set(request.path, (this.callsByPath.get(request.path) ?? 0) + 1);
    // Request bodies are never needed; reading them keeps the connection reusable.
    req.resume();
    const respond = () => {
      if (res.destroyed) return;
      const malformed = this.malformed;
      if (malformed && request.path.startsWith(malformed.pathPrefix)) {
        sendMalformed(res, malformed.kind, () => this.options.wrongTypes?.(request) ?? { message: 42 });
        return;
      }
      const answer = this.options.handle(request, req, res);
      if (answer === 'handled') return;
      Promise.resolve(answer).then(
        (reply) => send(res, reply),
        () => send(res, { status: 500, body: 'fake crashed' }),
      );
    };
    if (this.latencyMs === 0) respond();
    else {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        respond();
      }, this.latencyMs);
      this.timers.add(timer);
    }
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function send(res: ServerResponse, reply: FakeReply | 'drop'): void {
  if (res.destroyed) return;
  if (reply === 'drop') {
    res.socket?.destroy();
    return;
  }
  const headers: Record<string, string> = { ...reply.headers };
  let body: string | Buffer | undefined;
  if (reply.body === undefined) body = undefined;
  else if (typeof reply.body === 'string' || Buffer.isBuffer(reply.body)) body = reply.body;
  else {
    body = JSON.stringify(reply.body);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  }
  res.writeHead(reply.status, headers);
  res.end(body);
}

const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Just a moment...</title></head><body><h1>Checking your browser</h1></body></html>\n';

function sendMalformed(res: ServerResponse, kind: MalformedBody, wrongTypes: () => unknown): void {
  switch (kind) {
    case 'html':
      send(res, { status: 200, headers: { 'content-type': 'text/html; charset=UTF-8' }, body: HTML_PAGE });
      return;
    case 'truncated_json': {
      const json = JSON.stringify(wrongTypes());
      send(res, {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: json.slice(0, Math.max(1, Math.floor(json.length / 2))),
      });
      return;
    }
    case 'wrong_types':
      send(res, { status: 200, body: wrongTypes() });
      return;
    case 'huge':
      sendHuge(res);
      return;
  }
}

/** Ten megabytes of valid JSON, written with backpressure; stops as soon as the client hangs up. */
function sendHuge(res: ServerResponse): void {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const head = '{"padding":"';
  const tail = '"}';
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': String(HUGE_BODY_BYTES),
  });
  res.write(head);
  let written = head.length;
  const pump = () => {
    while (!res.destroyed && written + chunk.length + tail.length <= HUGE_BODY_BYTES) {
      written += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (res.destroyed) return;
    const rest = HUGE_BODY_BYTES - written - tail.length;
    res.end(Buffer.concat([Buffer.alloc(rest, 'x'), Buffer.from(tail)]));
  };
  res.on('error', () => undefined);
  pump();
}

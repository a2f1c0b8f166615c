import type { RequestListener, Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ServerBounds {
  /** Requests a connection may have unanswered; past it the connection is closed. */
  maxPipelinedRequests: number;
  /** A connection with no byte read or written for this long is closed, a client that stopped reading included. */
  writeTimeoutMs: number;
  maxConnections: number;
}

/**
 * Prometheus sends one request at a time per connection, a browser or curl a handful. A client
 * that pipelines hundreds of scrapes and never reads them made each one hold its answer in memory
 * (2.8 GB at 2,000 surfaces over three connections), so these bounds are far above honest use.
 */
export const DEFAULT_SERVER_BOUNDS: ServerBounds = {
  maxPipelinedRequests: 8,
  // Well above the slowest honest answer: a force-poll waits at most 10 s before it writes.
  writeTimeoutMs: 30_000,
  maxConnections: 512,
};

/** Sets the bounds on `server` and returns the request listener that enforces the pipelining one. */
export function boundServer(
  server: Server,
  listener: RequestListener,
  bounds: ServerBounds,
): RequestListener {
  server.maxConnections = bounds.maxConnections;
  // With no 'timeout' listener Node destroys the idle socket.
  server.setTimeout(bounds.writeTimeoutMs);
  const unanswered = new WeakMap<Socket, number>();
  return (req, res) => {
    const socket = req.socket;
    const pending = (unanswered.get(socket) ?? 0) + 1;
    unanswered.set(socket, pending);
    res.once('close', () => unanswered.set(socket, (unanswered.get(socket) ?? 1) - 1));
    if (pending > bounds.maxPipelinedRequests) {
      socket.destroy();
      return;
    }
    listener(req, res);
  };
}

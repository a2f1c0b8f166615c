/**
 * The hanging slice behind nginx: accepts connections, reads requests, never answers. Runs as its
 * own process so its CPU is shown apart. Usage: node --import tsx bench/targets/hold-server.ts MAX_SECONDS
 * Prints {"port": N} once listening; exits after MAX_SECONDS or when the bench that started it is gone.
 */
import { createServer, type Socket } from 'node:net';

const maxLifetimeMs = Number(process.argv[2] ?? 3600) * 1000;
// A held socket is dropped after this long, so a client that never gives up cannot pin it forever.
const HOLD_LIMIT_MS = 300_000;
const parentPid = process.ppid;
const held = new Set<Socket>();

const server = createServer((socket) => {
  held.add(socket);
  socket.setTimeout(HOLD_LIMIT_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('close', () => held.delete(socket));
  socket.resume();
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
  );
});

const shutdown = () => {
  for (const socket of held) socket.destroy();
  server.close(() => process.exit(0));
};
setTimeout(shutdown, maxLifetimeMs).unref();
setInterval(() => {
  if (process.ppid !== parentPid) shutdown();
}, 2_000).unref();
process.once('SIGTERM', shutdown);

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { fastPoller, startTestExporter, type TestExporter } from '../helpers/support.js';

/** A raw TCP server whose handler decides, byte by byte, how badly to answer. */
async function rawServer(
  onSocket: (socket: Socket) => void,
): Promise<{ url: string; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, server, sockets };
}

const closeRaw = (raw: { server: Server; sockets: Set<Socket> }) =>
  new Promise<void>((resolve) => {
    for (const socket of raw.sockets) socket.destroy();
    raw.server.close(() => resolve());
  });

describe('fault matrix: probed targets', () => {
  const servers: Array<{ server: Server; sockets: Set<Socket> }> = [];
  let exporter: TestExporter;
  let endlessClosed: Promise<number>;
  let tlsDir: string;
  let httpsServer: ReturnType<typeof createHttpsServer>;
  /** One entry per TLS connection the target accepted: whether it resumed an earlier session. */
  const handshakes: boolean[] = [];

  before(async () => {
    const silent = await rawServer(() => {});
    const stalledBody = await rawServer((socket) => {
      socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{"partial":'));
    });
    let resolveEndless: (bytes: number) => void = () => {};
    endlessClosed = new Promise((resolve) => {
      resolveEndless = resolve;
    });
    const endless = await rawServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
        let sent = 0;
        const chunk = Buffer.alloc(16 * 1024, 'a');
        const pump = () => {
          while (!socket.destroyed && socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`))
            sent += chunk.length;
          if (!socket.destroyed) socket.once('drain', pump);
        };
        socket.on('close', () => resolveEndless(sent));
        pump();
      });
    });
    const resetting = await rawServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"a":');
        setTimeout(() => socket.resetAndDestroy(), 20);
      });
    });
    servers.push(silent, stalledBody, endless, resetting);

    tlsDir = mkdtempSync(join(tmpdir(), 'surface-tls-'));
    // A throwaway self-signed certificate for 127.0.0.1, made per run so none is committed.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
      ],
      { cwd: tlsDir, stdio: 'ignore' },
    );
    httpsServer = createHttpsServer(
      { key: readFileSync(join(tlsDir, 'key.pem')), cert: readFileSync(join(tlsDir, 'cert.pem')) },
      (_req, res) => res.end('ok'),
    );
    httpsServer.on('secureConnection', (socket: TLSSocket) => handshakes.push(socket.isSessionReused()));
    await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
    const httpsUrl = `https://127.0.0.1:${(httpsServer.address() as AddressInfo).port}/health`;
    exporter = await startTestExporter({
      pollerEnabled: false,
      registry: {
        poller: fastPoller,
        environments: {
          prod: [
            { name: 'silent', provider: 'http', url: silent.url },
            { name: 'stalled-body', provider: 'http', url: stalledBody.url },
            { name: 'endless', provider: 'http', url: endless.url },
            { name: 'reset', provider: 'http', url: resetting.url },
            { name: 'self-signed', provider: 'http', url: httpsUrl },
            { name: 'private-ca', provider: 'http', url: httpsUrl, ca_file: join(tlsDir, 'cert.pem') },
            {
              name: 'private-ca-fresh',
              provider: 'http',
              url: httpsUrl,
              ca_file: join(tlsDir, 'cert.pem'),
              fresh_connection: true,
            },
          ],
        },
      },
    });
  });

  after(async () => {
    await exporter.stop();
    for (const raw of servers) await closeRaw(raw);
    httpsServer?.close();
    rmSync(tlsDir, { recursive: true, force: true });
  });

  const probe = (name: string) => exporter.poller.probeOnce(`prod/${name}`);

  it('a target that accepts TCP and never sends a byte: probe_timeout at the deadline', async () => {
    const result = await probe('silent');
    assert.equal(result.code, 'probe_timeout');
    assert.ok(result.durationSeconds < 1.5);
  });

  it('headers then a stalled body: probe_timeout, not a hang', async () => {
    const result = await probe('stalled-body');
    assert.equal(result.code, 'probe_timeout');
    assert.ok(result.durationSeconds < 1.5);
  });

  it('an endless body is cut at the 64 KiB cap and the connection closed', async () => {
    const result = await probe('endless');
    assert.equal(result.status, 'up', 'the status line was 200; the body is only read up to the cap');
    const sentBeforeClose = await endlessClosed;
    assert.ok(sentBeforeClose < 16 * 1024 * 1024, `server pushed ${sentBeforeClose} bytes before the close`);
  });

  it('a self-signed certificate: tls_error; the same target with its CA in ca_file: UP', async () => {
    const untrusted = await probe('self-signed');
    assert.deepEqual([untrusted.status, untrusted.code], ['degraded', 'tls_error']);
    assert.match(untrusted.detail, /TLS handshake failed/);
    const trusted = await probe('private-ca');
    assert.equal(trusted.status, 'up', trusted.detail);
  });

  it('fresh_connection: a full TLS handshake on every probe, no resumed session', async () => {
    const before = handshakes.length;
    for (let round = 0; round < 3; round++) {
      const result = await probe('private-ca-fresh');
      assert.equal(result.status, 'up', result.detail);
    }
    assert.deepEqual(
      handshakes.slice(before),
      [false, false, false],
      'one connection per probe, none resuming a session (that would skip the certificate)',
    );
  });

  it('a reset mid-response: health_no_response saying reset', async () => {
    const result = await probe('reset');
    assert.equal(result.code, 'health_no_response');
    assert.match(result.detail, /reset|socket|closed/i);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private CA made at run time with the openssl CLI (node's crypto cannot sign certificates), so
 * tests and the demo can serve chains with any validity window without committing a key.
 */
export class TestPki {
  readonly dir: string;
  private serial = 1;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'surface-pki-'));
    writeFileSync(join(this.dir, 'index.txt'), '');
    writeFileSync(join(this.dir, 'openssl.cnf'), CA_CONFIG.replaceAll('@DIR@', this.dir));
  }

  /** A self-signed root. */
  root(name: string, validity: Validity = aroundNow(3650)): IssuedCertificate {
    return this.issue({ subject: name, validity, ca: true });
  }

  /** A certificate signed by `issuer` (itself when omitted); `sans` like `DNS:localhost`, `IP:127.0.0.1`. */
  issue(options: {
    subject: string;
    issuer?: IssuedCertificate;
    validity: Validity;
    sans?: string[];
    ca?: boolean;
  }): IssuedCertificate {
    const id = `c${this.serial++}`;
    const keyPath = join(this.dir, `${id}.key`);
    const csrPath = join(this.dir, `${id}.csr`);
    const certPath = join(this.dir, `${id}.pem`);
    const extPath = join(this.dir, `${id}.ext`);
    this.openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${options.subject}`,
      '-keyout',
      keyPath,
      '-out',
      csrPath,
    ]);
    const extensions = options.ca
      ? ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']
      : [
          'basicConstraints=CA:FALSE',
          'keyUsage=critical,digitalSignature',
          'extendedKeyUsage=serverAuth',
          ...(options.sans?.length ? [`subjectAltName=${options.sans.join(',')}`] : []),
        ];
    writeFileSync(extPath, `[ext]\n${extensions.join('\n')}\n`);
    this.openssl([
      'ca',
      '-batch',
      '-notext',
      '-config',
      join(this.dir, 'openssl.cnf'),
      ...(options.issuer
        ? ['-cert', options.issuer.certPath, '-keyfile', options.issuer.keyPath]
        : ['-selfsign', '-keyfile', keyPath]),
      '-startdate',
      asn1Time(options.validity.notBefore),
      '-enddate',
      asn1Time(options.validity.notAfter),
      '-extfile',
      extPath,
      '-extensions',
      'ext',
      '-in',
      csrPath,
      '-out',
      certPath,
    ]);
    return {
      subject: options.subject,
      keyPath,
      certPath,
      keyPem: readFileSync(keyPath, 'utf8'),
      certPem: readFileSync(certPath, 'utf8'),
      notAfter: options.validity.notAfter,
    };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export interface IssuedCertificate {
  subject: string;
  keyPath: string;
  certPath: string;
  keyPem: string;
  certPem: string;
  notAfter: Date;
}

const DAY_MS = 86_400_000;

/** Valid from a day ago until `days` from now (negative: already expired). */
export function aroundNow(days: number, now = Date.now()): Validity {
  return { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + days * DAY_MS) };
}

function asn1Time(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

const CA_CONFIG = `[ca]
default_ca = local
[local]
database = @DIR@/index.txt
new_certs_dir = @DIR@
rand_serial = yes
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
`;

export interface TlsFake {
  url: string;
  /** TLS connections accepted so far. */
  readonly handshakes: number;
  close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1 presenting `leaf` with the `chain` above it. */
export async function startTlsFake(
  leaf: IssuedCertificate,
  chain: IssuedCertificate[],
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  port = 0,
): Promise<TlsFake> {
  const sockets = new Set<Socket>();
  let handshakes = 0;
  const server: Server = createServer(
    { key: leaf.keyPem, cert: [leaf.certPem, ...chain.map((cert) => cert.certPem)].join('') },
    handler,
  );
  server.on('secureConnection', (socket) => {
    handshakes++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get handshakes() {
      return handshakes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

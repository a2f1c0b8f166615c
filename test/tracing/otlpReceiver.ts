import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { protobufExportAsJson } from './otlpProtobuf.js';

/** How the fake collector treats an export: accept it, fail it (500, or 503 as an overloaded one), or never answer. */
export type ReceiverMode = 'accept' | 'fail_500' | 'fail_503' | 'never_answer';

export type AttributeValue = string | number | boolean;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  events: { name: string; attributes: Record<string, AttributeValue> }[];
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string | undefined };
  resource: Record<string, AttributeValue>;
}

export interface OtlpReceiver {
  url: string;
  /** Every request body exactly as received, for byte searches. */
  readonly rawBodies: Buffer[];
  readonly spans: ReceivedSpan[];
  /** How each accepted export was encoded (Content-Type). */
  readonly encodings: ('json' | 'protobuf')[];
  readonly exportAttempts: number;
  setMode(mode: ReceiverMode): void;
  close(): Promise<void>;
}

/** OTLP/JSON; protobuf bodies are mapped to the same shape (otlpProtobuf.ts). */
interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}
interface OtlpAnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: OtlpKeyValue[];
        events?: { name: string; attributes?: OtlpKeyValue[] }[];
        status?: { code?: number; message?: string };
      }[];
    }[];
  }[];
}

export async function startOtlpReceiver(initialMode: ReceiverMode): Promise<OtlpReceiver> {
  let mode = initialMode;
  const rawBodies: Buffer[] = [];
  const spans: ReceivedSpan[] = [];
  const encodings: ('json' | 'protobuf')[] = [];
  let exportAttempts = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      exportAttempts++;
      const body = Buffer.concat(chunks);
      rawBodies.push(body);
      if (mode === 'never_answer') return;
      if (mode === 'fail_500') {
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end('{"code":13,"message":"collector broke"}');
        return;
      }
      if (mode === 'fail_503') {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream overloaded');
        return;
      }
      const contentType = req.headers['content-type'] ?? '';
      const encoding = contentType.startsWith('application/x-protobuf')
        ? 'protobuf'
        : contentType.startsWith('application/json')
          ? 'json'
          : undefined;
      if (req.url !== '/v1/traces' || encoding === undefined) {
        res.writeHead(415).end();
        return;
      }
      encodings.push(encoding);
      const payload = encoding === 'json' ? JSON.parse(body.toString('utf8')) : protobufExportAsJson(body);
      spans.push(...decodeExport(payload as OtlpExport));
      // An empty ExportTraceServiceResponse in either encoding.
      res.writeHead(200, { 'content-type': contentType }).end(encoding === 'json' ? '{}' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    rawBodies,
    spans,
    encodings,
    get exportAttempts() {
      return exportAttempts;
    },
    setMode(next) {
      mode = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function decodeExport(payload: OtlpExport): ReceivedSpan[] {
  const decoded: ReceivedSpan[] = [];
  for (const resourceSpans of payload.resourceSpans ?? []) {
    const resource = attributeRecord(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        decoded.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId || undefined,
          name: span.name,
          kind: span.kind,
          attributes: attributeRecord(span.attributes),
          events: (span.events ?? []).map((event) => ({
            name: event.name,
            attributes: attributeRecord(event.attributes),
          })),
          status: { code: span.status?.code ?? 0, message: span.status?.message || undefined },
          resource,
        });
      }
    }
  }
  return decoded;
}

function attributeRecord(attributes: OtlpKeyValue[] | undefined): Record<string, AttributeValue> {
  const record: Record<string, AttributeValue> = {};
  for (const { key, value } of attributes ?? []) {
    if (value.stringValue !== undefined) record[key] = value.stringValue;
    else if (value.intValue !== undefined) record[key] = Number(value.intValue);
    else if (value.doubleValue !== undefined) record[key] = value.doubleValue;
    else if (value.boolValue !== undefined) record[key] = value.boolValue;
  }
  return record;
}

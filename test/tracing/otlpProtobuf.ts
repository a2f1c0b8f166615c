import protobuf from 'protobufjs';

/**
 * The part of opentelemetry-proto's trace schema (collector/trace/v1, trace/v1, common/v1,
 * resource/v1) the tests read. Field numbers and types are the published ones; fields left out are
 * skipped on decode.
 */
const TRACE_SCHEMA = `
syntax = "proto3";
package otlp;

message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  repeated Event events = 11;
  Status status = 15;
  fixed32 flags = 16;
}
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
  }
}
`;

const exportRequest = protobuf.parse(TRACE_SCHEMA).root.lookupType('otlp.ExportTraceServiceRequest');

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/**
 * An OTLP/HTTP protobuf body as the OTLP/JSON mapping would write it: camelCase fields, ids in hex,
 * 64-bit integers as strings.
 */
export function protobufExportAsJson(body: Buffer): unknown {
  const message = exportRequest.decode(body);
  const plain = exportRequest.toObject(message, { longs: String, bytes: String, defaults: false });
  return JSON.parse(JSON.stringify(plain), (key, value: unknown) =>
    ID_FIELDS.has(key) && typeof value === 'string' ? Buffer.from(value, 'base64').toString('hex') : value,
  );
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_QUEUE_SIZE, readTracingConfig, type TracingConfig } from '../../src/tracing/config.js';

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

function enabled(config: TracingConfig) {
  assert.ok(config.enabled, config.enabled ? '' : config.reason);
  return config;
}

describe('readTracingConfig', () => {
  const disabledCases: { env: NodeJS.ProcessEnv; reason: string }[] = [
    { env: {}, reason: 'no OTEL_EXPORTER_OTLP_ENDPOINT is set' },
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, reason: 'no OTEL_EXPORTER_OTLP_ENDPOINT is set' },
    { env: { ...ENDPOINT, OTEL_SDK_DISABLED: 'TRUE' }, reason: 'OTEL_SDK_DISABLED is true' },
    { env: { ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' }, reason: 'OTEL_TRACES_EXPORTER is none' },
    {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' },
      reason: 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL',
    },
    {
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' },
      reason: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not a URL',
    },
  ];
  for (const { env, reason } of disabledCases) {
    it(`is off: ${reason} (${JSON.stringify(env)})`, () => {
      const config = readTracingConfig(env);
      assert.equal(config.enabled, false);
      assert.equal(config.enabled ? undefined : config.reason, reason);
    });
  }

  const endpointCases: { env: NodeJS.ProcessEnv; endpoint: string }[] = [
    { env: ENDPOINT, endpoint: 'http://collector:4318/v1/traces' },
    {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example/otlp/' },
      endpoint: 'https://otlp.example/otlp/v1/traces',
    },
    {
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/custom' },
      endpoint: 'http://tempo:4318/custom',
    },
    {
      env: { ...ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces' },
      endpoint: 'http://jaeger:4318/v1/traces',
    },
  ];
  for (const { env, endpoint } of endpointCases) {
    it(`sends to ${endpoint} given ${JSON.stringify(env)}`, () => {
      assert.equal(enabled(readTracingConfig(env)).endpoint, endpoint);
    });
  }

  it('names the service surface-exporter unless OTEL_SERVICE_NAME or a service.name resource attribute says otherwise', () => {
    assert.equal(enabled(readTracingConfig(ENDPOINT)).serviceName, 'surface-exporter');
    assert.equal(
      enabled(readTracingConfig({ ...ENDPOINT, OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' }))
        .serviceName,
      'from-attrs',
    );
    assert.equal(
      enabled(
        readTracingConfig({
          ...ENDPOINT,
          OTEL_RESOURCE_ATTRIBUTES: 'service.name=a',
          OTEL_SERVICE_NAME: 'b',
        }),
      ).serviceName,
      'b',
    );
  });

  it('decodes OTEL_RESOURCE_ATTRIBUTES and warns about malformed pairs', () => {
    const config = enabled(
      readTracingConfig({
        ...ENDPOINT,
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod, team=site%20reliability,broken,bad=%E0%A4%A',
      }),
    );
    assert.deepEqual(config.resourceAttributes, {
      'deployment.environment': 'prod',
      team: 'site reliability',
    });
    assert.equal(config.warnings.length, 2);
  });

  const samplerCases: { env: NodeJS.ProcessEnv; name: string; ratio: number; warns: boolean }[] = [
    { env: {}, name: 'parentbased_always_on', ratio: 1, warns: false },
    { env: { OTEL_TRACES_SAMPLER: 'always_off' }, name: 'always_off', ratio: 1, warns: false },
    {
      env: { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' },
      name: 'traceidratio',
      ratio: 0.25,
      warns: false,
    },
    {
      env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' },
      name: 'parentbased_traceidratio',
      ratio: 1,
      warns: true,
    },
    { env: { OTEL_TRACES_SAMPLER: 'jaeger_remote' }, name: 'parentbased_always_on', ratio: 1, warns: true },
  ];
  for (const { env, name, ratio, warns } of samplerCases) {
    it(`samples with ${name} (${ratio}) given ${JSON.stringify(env)}`, () => {
      const config = enabled(readTracingConfig({ ...ENDPOINT, ...env }));
      assert.deepEqual(config.sampler, { name, ratio });
      assert.equal(config.warnings.length > 0, warns);
    });
  }

  it('merges OTLP headers, the traces-specific ones winning', () => {
    const config = enabled(
      readTracingConfig({
        ...ENDPOINT,
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Basic%20abc,x-scope-orgid=one',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-scope-orgid=two',
      }),
    );
    assert.deepEqual(config.headers, { authorization: 'Basic abc', 'x-scope-orgid': 'two' });
  });

  it('keeps the batch queue bounded whatever OTEL_BSP_* say', () => {
    const huge = enabled(
      readTracingConfig({
        ...ENDPOINT,
        OTEL_BSP_MAX_QUEUE_SIZE: '100000000',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '200000000',
      }),
    );
    assert.equal(huge.batch.maxQueueSize, MAX_QUEUE_SIZE);
    assert.equal(huge.batch.maxExportBatchSize, MAX_QUEUE_SIZE);
    const invalid = enabled(readTracingConfig({ ...ENDPOINT, OTEL_BSP_MAX_QUEUE_SIZE: '-5' }));
    assert.equal(invalid.batch.maxQueueSize, 2048);
    assert.deepEqual(invalid.warnings, ['OTEL_BSP_MAX_QUEUE_SIZE: -5 is not a positive integer, using 2048']);
  });

  it('reads the export timeout, traces-specific first', () => {
    assert.equal(enabled(readTracingConfig(ENDPOINT)).timeoutMillis, 10_000);
    assert.equal(
      enabled(
        readTracingConfig({
          ...ENDPOINT,
          OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
          OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3000',
        }),
      ).timeoutMillis,
      3000,
    );
  });

  it('warns that gRPC is not spoken', () => {
    const config = enabled(readTracingConfig({ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }));
    assert.match(config.warnings.join('\n'), /grpc is not supported/);
    assert.equal(config.protocol, 'http/protobuf');
  });

  it('sends http/protobuf unless told http/json; the traces variable wins; nonsense warns', () => {
    const protocolOf = (env: NodeJS.ProcessEnv) => enabled(readTracingConfig({ ...ENDPOINT, ...env }));
    assert.equal(protocolOf({}).protocol, 'http/protobuf');
    assert.equal(protocolOf({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol, 'http/json');
    assert.equal(
      protocolOf({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      }).protocol,
      'http/protobuf',
    );
    const nonsense = protocolOf({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'carrier-pigeon' });
    assert.equal(nonsense.protocol, 'http/protobuf');
    assert.match(
      nonsense.warnings.join('\n'),
      /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=carrier-pigeon is not an OTLP protocol/,
    );
  });
});

// The OpenTelemetry SDK with the OTLP/HTTP exporter, registered as the global
// tracer provider. Its own module so that the gateway loads it only when
// tracing is on (it is about 25 MB of resident memory a gateway without an
// OTLP endpoint does not need).
import type { Attributes } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

export function startSdk(env: Readonly<Record<string, string | undefined>>, attributes: Attributes): { shutdown(): Promise<void> } {
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? 'eks-hybrid-gateway',
    resource: resourceFromAttributes(attributes),
    // The exporter reads the endpoint, headers and timeout from OTEL_EXPORTER_OTLP_* itself.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: Number(env.OTEL_BSP_SCHEDULE_DELAY ?? 1000) })],
    instrumentations: [],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}

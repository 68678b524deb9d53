#!/usr/bin/env python3
"""Exports, with the official OpenTelemetry SDK, what AI tools send: Claude
Code's log records (usage, a prompt, a bad count) and a GenAI gateway's
spans, each carrying content that must never reach Kafka.

usage: otel_sdk.py PROTOCOL ENDPOINT TOKEN RUN
  PROTOCOL  http/protobuf | http/json | grpc
  ENDPOINT  http://HOST:PORT (HTTP) or HOST:PORT (gRPC)
  RUN       a word that makes this run's sessions and content unique

Exits 1 unless every export succeeded. Prints the content strings it sent,
one per line, for the caller to look for.
"""

import sys

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult


class Checked:
    """An exporter that remembers whether every export succeeded."""

    def __init__(self, inner, success):
        self.inner = inner
        self.success = success
        self.failed = 0

    def export(self, batch):
        result = self.inner.export(batch)
        if result != self.success:
            self.failed += 1
        return result

    def shutdown(self):
        return self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return True


def exporters(protocol, endpoint, token):
    headers = {"authorization": f"Bearer {token}"}
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return (
            OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", headers=headers, compression=Compression.Gzip),
            OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers=headers),
        )
    if protocol == "http/json":
        from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter

        return (
            OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", headers=headers),
            OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers=headers),
        )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        grpc_headers = tuple(headers.items())
        return (
            OTLPLogExporter(endpoint=endpoint, headers=grpc_headers, insecure=True),
            OTLPSpanExporter(endpoint=endpoint, headers=grpc_headers, insecure=True),
        )
    raise SystemExit(f"unknown protocol {protocol}")


def main():
    protocol, endpoint, token, run = sys.argv[1:5]
    log_exporter, span_exporter = exporters(protocol, endpoint, token)
    content = [
        f"CONTENT-{run}-prompt: rewrite the payment retry loop",
        f"CONTENT-{run}-args: claude -p 'drop table customers'",
        f"CONTENT-{run}-tool: rm -rf /srv/backups",
        f"CONTENT-{run}-messages: the quarterly numbers are",
        f"CONTENT-{run}-completion: here is the refactored code",
    ]

    claude = Resource.create({
        "service.name": "claude-code",
        "service.version": "2.1.332",
        "aitrail.team": "risk-management",
        "aitrail.repository": "github.com/acme/payments",
        "process.command_args": ["claude", "-p", content[1]],
    })
    logs = Checked(log_exporter, LogRecordExportResult.SUCCESS)
    provider = LoggerProvider(resource=claude)
    provider.add_log_record_processor(BatchLogRecordProcessor(logs))
    logger = provider.get_logger("com.anthropic.claude_code.events")
    logger.emit(
        body="claude_code.user_prompt",
        attributes={"event.name": "user_prompt", "prompt": content[0], "user.email": "alice@example.com"},
    )
    for n in (1, 2, 3):
        logger.emit(
            body="claude_code.api_request",
            attributes={
                "event.name": "api_request",
                "event.timestamp": f"2026-12-01T10:0{n}:00.000Z",
                "session.id": f"{run}-session-{n}",
                "user.email": "Alice@Example.com",
                "model": "claude-sonnet-4-5",
                "input_tokens": 10 * n,
                "output_tokens": 100 * n,
                "cache_read_tokens": 1000 * n,
                "cache_creation_tokens": 7 * n,
                "cost_usd": 0.5 * n,
                "duration_ms": 1200,
                "tool_parameters": content[2],
                "api_key_seen": "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
            },
        )
    logger.emit(
        body="claude_code.api_request",
        attributes={
            "event.name": "api_request",
            "session.id": f"{run}-session-bad",
            "user.email": "alice@example.com",
            "model": "claude-sonnet-4-5",
            "input_tokens": -5,
            "output_tokens": 1,
        },
    )
    provider.shutdown()

    gateway = Resource.create({"service.name": "llm-gateway", "service.version": "1.4.0"})
    spans = Checked(span_exporter, SpanExportResult.SUCCESS)
    tracer_provider = TracerProvider(resource=gateway)
    tracer_provider.add_span_processor(BatchSpanProcessor(spans))
    tracer = tracer_provider.get_tracer("gateway")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.provider.name", "openai")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute("gen_ai.usage.input_tokens", 900)
        span.set_attribute("gen_ai.usage.cache_read.input_tokens", 400)
        span.set_attribute("gen_ai.usage.output_tokens", 60)
        span.set_attribute("enduser.id", "bob@example.com")
        span.set_attribute("session.id", f"{run}-gateway")
        span.set_attribute("gen_ai.input.messages", content[3])
        span.set_attribute("gen_ai.output.messages", content[4])
        with tracer.start_as_current_span("http POST"):
            pass
    tracer_provider.shutdown()

    for text in content:
        print(text)
    if logs.failed or spans.failed:
        print(f"failed exports: logs {logs.failed}, spans {spans.failed}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

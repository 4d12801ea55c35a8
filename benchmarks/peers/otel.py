"""The demo app with OpenTelemetry tracing every request and statement (see __init__.py)."""
import os

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from webapp import create_app
from webapp.extensions import db

provider = TracerProvider(resource=Resource.create({"service.name": "flask-perf-demo"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=os.environ["BENCH_OTLP_ENDPOINT"])))
trace.set_tracer_provider(provider)

app = create_app("bare")
FlaskInstrumentor().instrument_app(app)
with app.app_context():
    # its 0.66b1 declares "sqlalchemy < 2.1" and would instrument nothing; its engine events work on 2.1
    SQLAlchemyInstrumentor().instrument(engine=db.engine, tracer_provider=provider, skip_dep_check=True)

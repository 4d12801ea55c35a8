"""The demo app with prometheus-flask-exporter in multiprocess mode (see __init__.py)."""
from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics

from webapp import create_app

app = create_app("bare")
metrics = GunicornPrometheusMetrics(app)  # request count and latency histogram per endpoint

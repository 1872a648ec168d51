"""Metrics (Prometheus), request logs, secret redaction and alerts."""

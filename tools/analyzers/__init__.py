"""Deterministic triage analyzers: workload state from Kubernetes, signals from Prometheus and Loki."""

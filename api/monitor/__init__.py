"""The web monitor: server-rendered pages at / and /monitor/*, live over SSE, plus GET /metrics for Prometheus."""

"""The HTTP edge: intake, job status, live event streams, health and the OpenAPI document."""

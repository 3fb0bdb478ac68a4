"""`planperfect bench`: throughput and latency benchmarks that set up their own topics and database."""

"""Chaos against a deployment of real processes: SIGKILLs, broker restarts, a database outage, and the verdict on its log."""

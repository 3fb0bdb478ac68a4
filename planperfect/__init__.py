"""PlanPerfect's process shell: settings, the command line and the local Kafka + PostgreSQL stack."""

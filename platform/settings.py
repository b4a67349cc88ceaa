"""Settings: `REELGATE_*` environment variables over an optional `reelgate.toml`.

Each field documents itself. `get_settings()` is cached; tests that change the
environment call `get_settings.cache_clear()`.
"""

from __future__ import annotations

import os
import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from reelgate.contract import stack as contract

ENV_PREFIX = "REELGATE_"


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    home: str = ""
    """Folder that holds `var/` (PIDs, sockets, logs, data). Defaults to the working directory."""
    port_base: int = 8400
    """Ports: router +0, blue +1, green +2, PostgreSQL +3, Valkey +4."""
    router: str = "haproxy"
    """The local stack's router: `haproxy` (switched through its runtime API) or `nginx` (reloaded)."""
    color: str = "blue"
    """This process's color (`blue` or `green`); it picks the job queue and the port."""
    database_url: str = ""
    """PostgreSQL URL of the owner role (migrations, the CLI). Empty means the local stack's PostgreSQL
    under `var/`."""
    app_database_url: str = ""
    """PostgreSQL URL the API and worker use: a login of the `reelgate_app` role, which row-level security
    binds. Empty means the local stack's `reelgate_app` login, or `database_url` when that is set."""
    valkey_url: str = ""
    """Valkey/Redis URL. Empty means the local stack's server under `var/`."""
    dependency_proxy: bool = False
    """Route the API's and worker's connections to PostgreSQL and Valkey through the chaos proxy (unix
    sockets under `var/run/proxy/`), which experiments slow down or cut. `reelgate chaos run` turns it on
    for its own stack; a live stack has no reason to."""
    media_dir: str = ""
    """Media store. Empty means `var/media`."""
    min_free_mb: int = 1024
    """Readiness fails when the media store has less free space than this."""
    max_upload_bytes: int = 2 * 1024**3
    """Largest accepted upload, in bytes (the whole multipart body)."""
    ladder: list[int] = msgspec.field(default_factory=lambda: [1080, 720, 480, 360])
    """Rendition rungs by the short side of the displayed picture, largest first."""
    rate_limit_per_minute: int = 600
    """Requests per tenant per minute on /v1; 0 turns the limit off."""
    failed_auth_per_minute: int = 20
    """Failed key checks (API or sign-in page) allowed per client address, and per key prefix, per
    minute; past it, key checks from there answer 429 until the minute ends. 0 turns it off."""
    failed_auth_exempt: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1", "::1"])
    """Client addresses never throttled per address (the key-prefix throttle still applies): the
    gates' scanners and the local tools run on loopback, and a scanner fuzzes the sign-in form."""
    cost_per_cpu_second: float = 0.0000124
    """Cost estimate: USD per vCPU-second of processing (AWS EC2 c7i.large on demand, us-east-1:
    $0.08925 an hour for 2 vCPUs)."""
    cost_per_gb_month: float = 0.023
    """Cost estimate: USD per GB of stored output per month (AWS S3 Standard, us-east-1)."""
    cost_per_egress_gb: float = 0.09
    """Cost estimate: USD per GB served (AWS data transfer out to the internet, first 10 TB)."""
    valkey_timeout_s: float = 0.25
    """Every Valkey call gives up after this long, and the caller falls back to PostgreSQL."""
    hls: bool = True
    """Also write every rendition as an HLS variant (fMP4 segments, one master playlist), in the same
    ffmpeg pass as the MP4s; the pages' player streams it through signed, expiring URLs."""
    mp4: bool = True
    """Keep each rendition as a progressive MP4 (downloads, players without HLS). False writes the HLS
    variants only, instead of beside them: about half the storage, no rendition downloads. Needs `hls`."""
    playback_ttl_s: int = 6 * 3600
    """How long a signed playback URL (HLS or MP4) stays valid."""
    ffmpeg: str = "pinned"
    """The ffmpeg that transcodes: `pinned` is the static ffmpeg 9 the imageio-ffmpeg wheel ships (a
    dependency, pinned), the same binary on every machine; `system` is the one on PATH (Debian's
    5.1); or a path. ffprobe is always the one on PATH. /health/version reports the version in use."""
    transcode_nice: Annotated[int, msgspec.Meta(ge=0, le=19)] = 10
    """ffmpeg's niceness: a transcode takes every core it is given, so on a machine that also serves
    requests it yields to them (1,000 users during uploads: docs/performance.md). 0 runs it as the
    worker runs."""
    api_server: Literal["uvicorn", "granian"] = "uvicorn"
    """The API's HTTP server."""
    db_pool_size: int = 20
    """PostgreSQL connections per API process, at most."""
    api_processes: int = 2
    """API processes per color, sharing its port (`reelgate serve --processes`): Python runs one
    request at a time per process, so more processes use more cores."""
    worker_concurrency: int = 1
    """Transcode jobs one worker runs at once (ffmpeg already uses every core)."""
    heartbeat_s: float = 2.0
    """How often a worker proves it is alive."""
    stalled_after_s: float = 8.0
    """A running job whose worker has not proved it is alive for this long is retried."""
    session_secret: str = ""
    """Signs the pages' session cookies and CSRF tokens. Empty means `var/secrets/session_key`,
    made on first use, so both colors accept the same sessions across a switch."""
    session_max_age_s: int = 12 * 3600
    """A page session ends this long after sign-in."""
    backup_dir: str = ""
    """Where backups go: pgBackRest's repository (the database, with its WAL archived continuously) and
    restic's (media and secrets). Empty: no backups, and PostgreSQL archives nothing (docs/operations.md)."""
    archive_timeout_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    """The longest committed data waits before its WAL is archived: the bound of the database's RPO."""
    backup_key_file: str = ""
    """restic's password, which encrypts the media and secrets backups. Empty: `var/secrets/backup_key`,
    made on first use. Keep a copy apart from the backups: without it they cannot be read."""
    media_grace_s: int = -1
    """How long a deleted video's files stay in the media store's `trash/` before they are collected, so
    a database restored to before the deletion still finds them. -1: a day when backups are on
    (`backup_dir`), else 0 (deleted at once)."""
    git_revision: str = ""
    """Reported by /health/version; read from git when empty."""

    def __post_init__(self) -> None:
        if not (self.hls or self.mp4):
            raise ValueError("hls and mp4 are both off: the renditions must be written as one or the other")

    # -- derived paths -------------------------------------------------
    @property
    def root(self) -> Path:
        return Path(self.home or os.getcwd()).resolve()

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def run_dir(self) -> Path:
        return self.var / "run"

    @property
    def log_dir(self) -> Path:
        return self.var / "log"

    @property
    def proxy_dir(self) -> Path:
        return self.run_dir / "proxy"

    @property
    def backup_key(self) -> Path:
        return Path(self.backup_key_file).resolve() if self.backup_key_file else self.var / "secrets" / "backup_key"

    @property
    def backup_status(self) -> Path:
        """The last good `backup run` (JSON), which the metrics read."""
        return self.var / "backup" / "last.json"

    @property
    def media_status(self) -> Path:
        """The last good media snapshot (either kind of `backup run`), which the metrics read."""
        return self.var / "backup" / "media.json"

    @property
    def media_grace(self) -> int:
        if self.media_grace_s >= 0:
            return self.media_grace_s
        return 86400 if self.backup_dir else 0

    @property
    def media(self) -> Path:
        return Path(self.media_dir).resolve() if self.media_dir else self.var / "media"

    def port(self, part: str) -> int:
        return contract.port(self.port_base, part)

    @property
    def queue(self) -> str:
        return contract.queue_for(self.color)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        secret = self.var / "secrets" / "db_password"
        password = secret.read_text().strip() if secret.exists() else ""
        return contract.database_url("reelgate", password, self.port("postgres"))

    @property
    def app_db_url(self) -> str:
        if self.app_database_url or self.database_url:
            return self.app_database_url or self.database_url
        secret = self.var / "secrets" / "db_app_password"
        password = secret.read_text().strip() if secret.exists() else ""
        if self.dependency_proxy:  # libpq finds the proxy's socket as .s.PGSQL.<port> in `host`
            return f"postgresql://reelgate_app:{password}@/reelgate?host={self.proxy_dir}&port={self.port('postgres')}"
        return contract.database_url("reelgate_app", password, self.port("postgres"))

    @property
    def kv_url(self) -> str:
        return self.valkey_url or f"redis://127.0.0.1:{self.port('valkey')}/0"

    @property
    def app_kv_url(self) -> str:
        """The Valkey URL the API and worker use: through the chaos proxy when `dependency_proxy` is on."""
        if self.dependency_proxy and not self.valkey_url:
            return f"unix://{self.proxy_dir}/valkey.sock?db=0"
        return self.kv_url


class SettingsError(Exception):
    """A setting could not be read; the message names the source."""


def _from_env(env: dict[str, str]) -> dict[str, object]:
    fields = {f.name: f for f in msgspec.structs.fields(Settings)}
    values: dict[str, object] = {}
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in fields:
            continue  # other REELGATE_* variables belong to other parts (e.g. REELGATE_ZAP_URL)
        if name == "ladder":
            values[name] = [int(x) for x in raw.split(",") if x.strip()]
        else:
            values[name] = raw
    return values


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    home = Path(env.get("REELGATE_HOME") or os.getcwd())
    merged: dict[str, object] = {}
    toml_path = home / "reelgate.toml"
    if toml_path.exists():
        try:
            merged.update(tomllib.loads(toml_path.read_text()))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{toml_path}: {exc}") from None
    try:
        merged.update(_from_env(env))
        return msgspec.convert(merged, Settings, strict=False)
    except (msgspec.ValidationError, ValueError) as exc:
        raise SettingsError(f"settings ({toml_path} or REELGATE_* variables): {exc}") from None


@cache
def get_settings() -> Settings:
    return load_settings()

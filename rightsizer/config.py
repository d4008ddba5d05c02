"""Settings from flags, then `RIGHTSIZER_*` environment variables, then `rightsizer.toml`.

The file is looked for in the current folder, then in the user's config folder
(`$XDG_CONFIG_HOME/rightsizer/rightsizer.toml`, default `~/.config/rightsizer/`). Every
setting remembers where its value came from, so `rightsizer config` can show it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, get_args, get_origin, get_type_hints

from rightsizer.errors import ConfigError

CONFIG_FILE = "rightsizer.toml"
# DuckDB's share of memory by default; past it, big intermediate results spill to `<db>.tmp/`.
MEMORY_LIMIT = "256MB"
# DuckDB's memory_limit values: a number and a unit (256MB, 1.5GB, 2GiB).
_MEMORY_RE = re.compile(r"^\s*\d+(\.\d+)?\s*[KMGT]i?B\s*$", re.IGNORECASE)


def _setting(default: Any, about: str, *, secret: bool = False) -> Any:
    """A field of Settings: its default, what it is, and whether its value must not be shown."""
    return field(default=default, metadata={"about": about, "secret": secret}, repr=not secret)


@dataclass(frozen=True)
class Settings:
    """Effective settings; `origin[name]` says where each value came from."""

    source: str | None = _setting(
        None, "log source: a local CloudTrail tree or s3://bucket[/prefix]"
    )
    db: str = _setting("rightsizer.duckdb", "DuckDB database file")
    days: int = _setting(90, "window length in days, ending at --until")
    iam_details: str | None = _setting(None, "aws iam get-account-authorization-details JSON file")
    lambda_functions: str | None = _setting(None, "aws lambda list-functions JSON file")
    event_selectors: str | None = _setting(None, "get-event-selectors JSON file, or `live`")
    granularity: str = _setting("prefix", "object | prefix | bucket")
    min_calls: int = _setting(
        100, "a role with fewer successful S3 calls in the window gets a low-evidence warning"
    )
    engine: str = _setting("duckdb", "where the usage stage runs (see analyze --help)")
    athena_workgroup: str = _setting("primary", "Athena workgroup (--engine athena)")
    athena_database: str | None = _setting(
        None, "Athena database of the CloudTrail table and the staging tables"
    )
    athena_output: str | None = _setting(None, "s3://bucket/prefix/ for Athena results, staging")
    athena_table: str = _setting("cloudtrail_logs", "the CloudTrail table in athena_database")
    athena_create_table: bool = _setting(False, "consent to create the CloudTrail table if missing")
    max_scan_gb: float | None = _setting(None, "stop Athena above this many GB scanned in a run")
    profile: str | None = _setting(None, "AWS profile for boto3")
    region: str | None = _setting(None, "AWS region for API calls (IAM, SES, CloudTrail)")
    workers: int = _setting(0, "ingest worker processes (0 = one per core)")
    memory_limit: str = _setting(
        MEMORY_LIMIT, "DuckDB's memory before it spills to <db>.tmp/ (2GB: big stores run faster)"
    )
    smtp_host: str | None = _setting(None, "SMTP server for the report")
    smtp_port: int = _setting(587, "SMTP port")
    smtp_starttls: bool = _setting(False, "force STARTTLS (the default on every port but 465)")
    smtp_ssl: bool = _setting(False, "force TLS from the start (the default on port 465)")
    smtp_insecure: bool = _setting(
        False, "DANGEROUS: plain SMTP, report and password unencrypted (trusted relays only)"
    )
    smtp_user: str | None = _setting(None, "SMTP user (environment only)", secret=True)
    smtp_password: str | None = _setting(None, "SMTP password (environment only)", secret=True)
    report_to: tuple[str, ...] = _setting((), "report recipients")
    report_from: str | None = _setting(
        None, "report sender (default rightsizer@ this host's domain, when it has one)"
    )
    report_subject: str | None = _setting(None, "report subject line")
    ses: bool = _setting(False, "send the report with Amazon SES instead of SMTP")
    ses_region: str | None = _setting(None, "SES region")
    watch_recent_days: int = _setting(
        7, "first-seen judges the window's last N days against all the store holds before"
    )
    watch_min_history_days: int = _setting(
        7, "days of history first-seen needs before those days (less: nothing judged new)"
    )
    watch_burst_min_calls: int = _setting(20, "denied calls in an hour before it is a burst")
    watch_burst_factor: int = _setting(
        10, "a burst is this many times the role's usual hourly rate of denied calls"
    )
    watch_change_hours: int = _setting(
        24, "hours after a policy change in which the role's denied calls are counted"
    )
    aws_ip_ranges: str | None = _setting(
        None, "AWS's ip-ranges.json: judge whether a role's source IPs are AWS's"
    )
    origin: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, shown value, origin) for every setting; secrets are masked."""
        rows = []
        for name in _KINDS:
            value = getattr(self, name)
            shown = "***" if name in _SECRETS and value else _show(value)
            rows.append((name, shown, self.origin[name]))
        return rows


@dataclass(frozen=True)
class Flags:
    """The settings a command line gives; None (or an empty list) means not given."""

    source: str | None = None
    db: str | None = None
    days: int | None = None
    iam_details: str | None = None
    lambda_functions: str | None = None
    event_selectors: str | None = None
    granularity: str | None = None
    min_calls: int | None = None
    engine: str | None = None
    athena_workgroup: str | None = None
    athena_database: str | None = None
    athena_output: str | None = None
    athena_table: str | None = None
    athena_create_table: bool | None = None
    max_scan_gb: float | None = None
    profile: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_starttls: bool | None = None
    smtp_ssl: bool | None = None
    smtp_insecure: bool | None = None
    report_to: list[str] | None = None
    report_from: str | None = None
    report_subject: str | None = None
    ses: bool | None = None
    ses_region: str | None = None
    watch_recent_days: int | None = None
    watch_min_history_days: int | None = None
    watch_burst_min_calls: int | None = None
    watch_burst_factor: int | None = None
    watch_change_hours: int | None = None
    aws_ip_ranges: str | None = None


def _kind(hint: Any) -> type:
    """The type a setting is read as: `int` → int, `str | None` → str, `tuple[str, ...]` → tuple."""
    (kind,) = (
        [a for a in get_args(hint) if a is not NoneType] if type(hint) is UnionType else [hint]
    )
    return get_origin(kind) or kind


_HINTS = get_type_hints(Settings)
# Every setting's name → the type its value is read as, in the order `rightsizer config` shows.
_KINDS: dict[str, type] = {f.name: _kind(_HINTS[f.name]) for f in fields(Settings) if f.metadata}
_SECRETS = frozenset(f.name for f in fields(Settings) if f.metadata.get("secret"))
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Settings) if f.metadata}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) or "-"
    return str(value)


def _coerce(name: str, raw: Any, where: str) -> Any:
    kind = _KINDS[name]
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(raw)
        if kind is int:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(raw)
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
        if kind is tuple:
            if isinstance(raw, list | tuple):
                return tuple(str(item) for item in raw)
            return tuple(part.strip() for part in str(raw).split(",") if part.strip())
        return str(raw)
    except ValueError:
        raise ConfigError(f"{where}: {name} = {raw!r} is not a valid {kind.__name__}") from None


def find_config_file(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    if env.get("RIGHTSIZER_CONFIG"):
        path = Path(env["RIGHTSIZER_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"RIGHTSIZER_CONFIG names {path}, which is not a file")
        return path
    local = (cwd or Path.cwd()) / CONFIG_FILE
    if local.is_file():
        return local
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    user = base / "rightsizer" / CONFIG_FILE
    return user if user.is_file() else None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; fix or remove the file") from None
    # Allow both a flat file and one with a [rightsizer] table.
    table = data.get("rightsizer", data)
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):  # e.g. [smtp] host = ... -> smtp_host
            for sub, subvalue in value.items():
                flat[f"{key}_{sub}".replace("-", "_")] = subvalue
        else:
            flat[key.replace("-", "_")] = value
    unknown = sorted(set(flat) - set(_KINDS))
    if unknown:
        names = ", ".join(unknown)
        raise ConfigError(f"{path}: unknown setting(s) {names}; see `rightsizer config`")
    for name in ("smtp_user", "smtp_password"):
        if name in flat:
            raise ConfigError(f"{path}: {name} may only come from RIGHTSIZER_{name.upper()}")
    return flat


def load_settings(
    flags: Flags | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Merge flags, environment and config file over the defaults."""
    env = os.environ if env is None else env
    config_path = find_config_file(cwd, env)
    from_file = _read_file(config_path) if config_path else {}
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name in _KINDS:
        env_name = f"RIGHTSIZER_{name.upper()}"
        flag = getattr(flags, name, None)
        if flag is not None and flag != []:
            values[name], origin[name] = _coerce(name, flag, "flag"), "flag"
        elif env.get(env_name) not in (None, ""):
            values[name] = _coerce(name, env[env_name], env_name)
            origin[name] = f"env {env_name}"
        elif name in from_file:
            values[name] = _coerce(name, from_file[name], str(config_path))
            origin[name] = str(config_path)
        else:
            values[name] = _DEFAULTS[name]
            origin[name] = "default"
    _validate(values)
    return Settings(**values, origin=origin)


def _validate(values: Mapping[str, Any]) -> None:
    if values["days"] < 1:
        raise ConfigError(f"days must be at least 1 (got {values['days']})")
    if values["granularity"] not in ("object", "prefix", "bucket"):
        raise ConfigError(
            f"granularity {values['granularity']!r} is not one of object, prefix, bucket"
        )
    if values["min_calls"] < 0:
        raise ConfigError(f"min_calls must be 0 or more (got {values['min_calls']})")
    for name in (
        "watch_recent_days",
        "watch_min_history_days",
        "watch_burst_min_calls",
        "watch_burst_factor",
        "watch_change_hours",
    ):
        if values[name] < 1:
            raise ConfigError(f"{name} must be at least 1 (got {values[name]})")
    if values["workers"] < 0:
        raise ConfigError(f"workers must be 0 (one per core) or more (got {values['workers']})")
    if not _MEMORY_RE.match(values["memory_limit"]):
        raise ConfigError(
            f"memory_limit {values['memory_limit']!r} is not an amount of memory such as "
            "256MB or 2GB"
        )

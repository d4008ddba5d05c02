"""Settings from flags, then `RIGHTSIZER_*` environment variables, then `rightsizer.toml`.

The file is looked for in the current folder, then in the user's config folder
(`$XDG_CONFIG_HOME/rightsizer/rightsizer.toml`, default `~/.config/rightsizer/`). Every
setting remembers where its value came from, so `rightsizer config` can show it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rightsizer.errors import ConfigError

CONFIG_FILE = "rightsizer.toml"


@dataclass(frozen=True)
class Option:
    name: str
    kind: type
    default: Any
    help: str
    secret: bool = False


OPTIONS: tuple[Option, ...] = (
    Option("source", str, None, "log source: a local CloudTrail tree or s3://bucket[/prefix]"),
    Option("db", str, "rightsizer.duckdb", "DuckDB database file"),
    Option("days", int, 90, "window length in days, ending at --until"),
    Option("iam_details", str, None, "aws iam get-account-authorization-details JSON file"),
    Option("lambda_functions", str, None, "aws lambda list-functions JSON file"),
    Option("event_selectors", str, None, "get-event-selectors JSON file, or `live`"),
    Option("granularity", str, "prefix", "object | prefix | bucket"),
    Option("profile", str, None, "AWS profile for boto3"),
    Option("region", str, None, "AWS region for API calls (IAM, SES, CloudTrail)"),
    Option("workers", int, 0, "ingest worker processes (0 = one per core)"),
    Option("smtp_host", str, None, "SMTP server for the report"),
    Option("smtp_port", int, 587, "SMTP port"),
    Option("smtp_starttls", bool, False, "force STARTTLS (the default on every port but 465)"),
    Option("smtp_ssl", bool, False, "force TLS from the start (the default on port 465)"),
    Option(
        "smtp_insecure",
        bool,
        False,
        "DANGEROUS: plain SMTP, report and password unencrypted (trusted relays only)",
    ),
    Option("smtp_user", str, None, "SMTP user (environment only)", secret=True),
    Option("smtp_password", str, None, "SMTP password (environment only)", secret=True),
    Option("report_to", list, [], "report recipients"),
    Option("report_from", str, "rightsizer@localhost", "report sender"),
    Option("report_subject", str, None, "report subject line"),
    Option("ses", bool, False, "send the report with Amazon SES instead of SMTP"),
    Option("ses_region", str, None, "SES region"),
)
_BY_NAME = {option.name: option for option in OPTIONS}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Effective settings; `origin[name]` says where each value came from."""

    values: Mapping[str, Any]
    origin: Mapping[str, str]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, shown value, origin) for every setting; secrets are masked."""
        rows = []
        for option in OPTIONS:
            value = self.values[option.name]
            shown = "***" if option.secret and value else _show(value)
            rows.append((option.name, shown, self.origin[option.name]))
        return rows


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return str(value)


def _coerce(option: Option, raw: Any, where: str) -> Any:
    try:
        if option.kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(raw)
        if option.kind is int:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(raw)
        if option.kind is list:
            if isinstance(raw, list):
                return [str(item) for item in raw]
            return [part.strip() for part in str(raw).split(",") if part.strip()]
        return str(raw)
    except ValueError:
        raise ConfigError(
            f"{where}: {option.name} = {raw!r} is not a valid {option.kind.__name__}"
        ) from None


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
    unknown = sorted(set(flat) - set(_BY_NAME))
    if unknown:
        names = ", ".join(unknown)
        raise ConfigError(f"{path}: unknown setting(s) {names}; see `rightsizer config`")
    for name in ("smtp_user", "smtp_password"):
        if name in flat:
            raise ConfigError(f"{path}: {name} may only come from RIGHTSIZER_{name.upper()}")
    return flat


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Merge flags (None means not given), environment and config file over the defaults."""
    env = os.environ if env is None else env
    config_path = find_config_file(cwd, env)
    from_file = _read_file(config_path) if config_path else {}
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for option in OPTIONS:
        env_name = f"RIGHTSIZER_{option.name.upper()}"
        flag = (flags or {}).get(option.name)
        if flag is not None and flag != []:
            values[option.name], origin[option.name] = _coerce(option, flag, "flag"), "flag"
        elif env.get(env_name) not in (None, ""):
            values[option.name] = _coerce(option, env[env_name], env_name)
            origin[option.name] = f"env {env_name}"
        elif option.name in from_file:
            values[option.name] = _coerce(option, from_file[option.name], str(config_path))
            origin[option.name] = str(config_path)
        else:
            values[option.name] = option.default
            origin[option.name] = "default"
    _validate(values)
    return Settings(values=values, origin=origin)


def _validate(values: Mapping[str, Any]) -> None:
    if values["days"] < 1:
        raise ConfigError(f"days must be at least 1 (got {values['days']})")
    if values["granularity"] not in ("object", "prefix", "bucket"):
        raise ConfigError(
            f"granularity {values['granularity']!r} is not one of object, prefix, bucket"
        )
    if values["workers"] < 0:
        raise ConfigError(f"workers must be 0 (one per core) or more (got {values['workers']})")

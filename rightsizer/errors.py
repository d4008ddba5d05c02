"""Errors a user can cause. The CLI prints their message on one line and exits with code 2."""


class RightsizerError(Exception):
    """A problem the user can fix; the message names the thing and what to do."""

    exit_code = 2


class ConfigError(RightsizerError):
    """A bad flag, environment variable or rightsizer.toml value."""


class SourceError(RightsizerError):
    """The log source cannot be read: missing path, no credentials, access denied."""


class StoreError(RightsizerError):
    """The DuckDB store cannot be opened: locked by another run, unreadable, too new."""


class PolicyError(RightsizerError):
    """A policy document or IAM snapshot cannot be understood."""


class QueryError(RightsizerError):
    """A query failed, was cancelled or was stopped (over the scan budget) in a remote engine."""

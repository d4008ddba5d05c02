"""The one place a boto3 session is made, from `--profile` and the region setting."""

from __future__ import annotations

from typing import Any

from rightsizer.errors import ConfigError


def session(profile: str | None = None, region: str | None = None) -> Any:
    """A boto3 session on the standard credential chain; AWS_ENDPOINT_URL is honoured by boto3."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise ConfigError(
            f"AWS profile {profile!r} is not configured; check ~/.aws/config or drop --profile"
        ) from None

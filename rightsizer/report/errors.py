"""Errors of the report stage; the CLI prints them on one line and exits non-zero."""

from __future__ import annotations

from rightsizer.errors import RightsizerError


class ReportError(RightsizerError):
    """The report cannot be built or written: unsupported analysis, unwritable --out."""


class DeliveryError(ReportError):
    """The report cannot be sent: SMTP refused, login failed, SES rejected it."""

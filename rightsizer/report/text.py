"""Showing data as text: control characters made visible instead of acted on."""

from __future__ import annotations

import re
from typing import Any

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def clean(value: Any) -> str:
    """The text of a value with control characters shown as escapes (`\\r`, `\\x1b`)."""
    text = "" if value is None else str(value)
    return CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)

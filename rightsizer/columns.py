"""Column widths for a terminal table that never breaks a word.

Rich shrinks a table that is too wide by cutting its widest columns, through the middle of a
word if need be (`s3:DeleteObje│ct`). Here each column gets at least its longest word (a role
name, an action), and no more than its longest line; what room is left goes to the columns
that would wrap most. When even the longest words do not fit side by side, there is no such
table: the caller shows the rows another way.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text


def fit_columns(
    header: Sequence[str], rows: Sequence[Sequence[Text]], wraps: Sequence[bool], room: int
) -> list[int] | None:
    """Content widths (padding and borders excluded) within `room` cells. A column is at least
    as wide as its longest word, or, when it does not wrap, as its longest line (a header
    still wraps between words); at most as wide as its longest line. None when those least
    widths do not fit in `room`."""
    narrowest, widest = [], []
    for index, (title, wrap) in enumerate(zip(header, wraps, strict=True)):
        lines = [line for row in rows for line in row[index].plain.splitlines()]
        longest_line = _longest(lines)
        narrowest.append(
            max(
                _longest(title.split()), _longest(" ".join(lines).split()) if wrap else longest_line
            )
        )
        widest.append(max(cell_len(title), longest_line))
    if sum(narrowest) > room:
        return None
    widths = list(narrowest)
    for _ in range(room - sum(widths)):
        # A cell at a time to the column furthest from its longest line: wrapping evens out.
        index = max(range(len(widths)), key=lambda i: widest[i] - widths[i])
        if widest[index] == widths[index]:
            break
        widths[index] += 1
    return widths


def _longest(parts: Sequence[str]) -> int:
    return max((cell_len(part) for part in parts), default=0)

"""The shell shared by the PR gate's Markdown checks: render a section, print it, optionally save it.

Exit codes: 0 = the section was written, 1 = an input could not be read (the reason on stderr).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

EXIT_UNREADABLE = 1


def emit_section(render: Callable[[], str], output: Path | None, unreadable: type[Exception]) -> int:
    """Print `render()`'s Markdown (and write it to `output`); an `unreadable` error becomes exit 1."""
    try:
        markdown = render()
    except unreadable as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    if output:
        output.write_text(markdown, encoding="utf-8")
    sys.stdout.write(markdown)
    return 0

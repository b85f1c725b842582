"""How the CLI prints a table: drawn for a person on a terminal, plain for a pipe.

rich fits a table to the terminal's width and, when output is piped, to 80 columns: cells are
wrapped or cut with an ellipsis, so a run id, a reason or an evidence line reaches ``grep`` or
a log in pieces. ``show`` keeps rich's table for a terminal and writes plain aligned columns
otherwise: one line per row, every cell whole, no colour, no box; the title (when the table
has one) and the header come first. ``--json`` stays the stable format for
programs; this keeps the human format usable in ``less``, ``grep`` and CI logs.
"""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["plain_lines", "show"]


def show(table: Table, *, console: Console | None = None) -> None:
    """Print ``table`` on ``console`` (default: stdout) as drawn or as plain columns."""
    console = console or Console()
    if console.is_terminal:
        console.print(table)
        return
    out: IO[str] = console.file if console.file is not None else sys.stdout
    out.write("".join(line + "\n" for line in plain_lines(table)))
    out.flush()


def plain_lines(table: Table) -> list[str]:
    """The header and rows of ``table`` as aligned columns of plain text, nothing cut."""
    header = [_plain(column.header) for column in table.columns]
    columns = [[_plain(cell) for cell in column.cells] for column in table.columns]
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    # A cell with a line break would break the one-row-one-line promise: keep it on one line.
    rows = [[" ".join(cell.split("\n")) for cell in row] for row in rows]
    widths = [max([len(header[i]), *(len(row[i]) for row in rows)]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    title = [_plain(table.title)] if table.title else []
    return [*title, line(header).rstrip(), *(line(row).rstrip() for row in rows)]


def _plain(cell: object) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        return Text.from_markup(cell).plain
    return str(cell)

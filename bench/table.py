"""The report `make bench` prints: one line per target as soon as it is measured, and the
whole table again at the end, aligned as Markdown so that it pastes into
docs/benchmarks.md as it is.

A row holds text, not numbers: each phase formats its own figure (msg/s, ms, µs, %), its
floor measured in the same run when the target has one, and the ratio between them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

NONE = "—"  # no floor, or no ratio, for this target
HEADER = ("what", "figure", "floor (same run)", "ratio", "target", "result")


@dataclass(frozen=True)
class Row:
    what: str
    figure: str
    target: str
    ok: bool
    floor: str = NONE
    ratio: str = NONE

    @property
    def result(self) -> str:
        return "PASS" if self.ok else "MISS"

    def cells(self) -> tuple[str, ...]:
        return (self.what, self.figure, self.floor, self.ratio, self.target, self.result)


def number(value: float, digits: int = 0) -> str:
    """`1234567.8` → `1 234 568`: thousands apart by a space, as the docs write them."""
    return f"{value:,.{digits}f}".replace(",", " ")


def ratio(value: float) -> str:
    return f"{value:.2f}"


def line(row: Row) -> str:
    """The line printed as the row is measured."""
    parts = [f"{row.result}  {row.what}: {row.figure}"]
    if row.floor != NONE:
        parts.append(f"floor {row.floor}")
    if row.ratio != NONE:
        parts.append(f"ratio {row.ratio}")
    parts.append(f"target {row.target}")
    return " | ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe inside a cell would split it in Markdown


def markdown(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table whose columns line up in plain text too."""
    table = [HEADER, *(tuple(_cell(c) for c in row.cells()) for row in rows)]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(HEADER))]

    def render(cells: Iterable[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([render(table[0]), rule, *(render(cells) for cells in table[1:])])


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(line(row), flush=True)

    def markdown(self) -> str:
        return markdown(self.rows)


def info(text: str) -> None:
    """A figure that is not a target: printed, not in the table."""
    print(f"INFO  {text}", flush=True)

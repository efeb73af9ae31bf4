"""One CSV file a billing admin hands otb (an export, a bank statement, exchange rates): its header and its rows.

Every way a file can be unreadable becomes a Problem with the file and line: not there, a folder, a broken link,
not UTF-8, a quote never closed (the rest of the file would be one cell), a row with more cells than the header
(a comma inside a value: every later column would shift), and the csv module's own errors.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from ..core.errors import Problem, Source
from .sources import read_text

Rows = Iterator[tuple[list[str], int]]  # (cells as written, the line the row starts on)


def open_csv(path: Path, name: str, problems: list[Problem], hint: str = "export it as UTF-8 CSV",
             required: tuple[str, ...] = (), delimiter: str = ",", encoding: str = "utf-8-sig",
             lower: bool = True) -> tuple[list[str], Rows] | None:
    """(column names, lower-cased unless `lower` is False, and the rows), or None with the problem recorded.
    Blank rows are skipped."""
    text = read_text(path, name, problems, hint, encoding)
    if text is None:
        return None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem(Source(name, 1), "the file is empty; it needs at least a header row",
                                "header: " + ",".join(required)))
        return None
    except csv.Error as exc:
        problems.append(Problem(Source(name, 1), f"CSV error: {exc}", "check the quotes on this line"))
        return None
    columns = [c.strip().lower() if lower else c.strip() for c in header]

    count = len(columns)

    def rows() -> Rows:
        line = reader.line_num
        try:
            for record in reader:
                start, line = line + 1, reader.line_num
                if not (record and record[0] and not record[0].isspace()) and not "".join(record).strip():
                    continue  # a blank row
                if line > start and len(record) < count and any("\n" in cell for cell in record):
                    problems.append(Problem(Source(name, start), f"a quote opened on this line is not closed: the "
                                            f"cell runs on to line {line}", "close the quote, or remove it"))
                    continue
                if len(record) > count and any(cell.strip() for cell in record[count:]):
                    problems.append(Problem(Source(name, start), f"the row has {len(record)} cells but the header "
                                            f"names {len(columns)} columns",
                                            "a comma inside a value? put the value in double quotes"))
                    continue
                yield record, start
        except csv.Error as exc:
            problems.append(
                Problem(Source(name, reader.line_num), f"CSV error: {exc}", "check the quotes on this line")
            )

    return columns, rows()

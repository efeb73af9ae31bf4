"""`otb import-exports MONTH FILES... --profile NAME`: a vendor's exports made into exports/MONTH/*.csv.

The normalized file is what `otb bill` reads, so the import is reviewed as a git diff like everything else. Its rows
carry a `source` column (the profile's name): importing again with the same profile replaces that profile's rows of
the month and keeps every other row (another vendor's, or typed by hand). Time rows of another month go to that
month's file, added to it (rows already there are not repeated). All files are written as one change.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import NamedTuple

from .. import journal
from ..core.errors import InputErrors, Problem
from ..core.month import Month
from ..readers.config import read_config
from ..readers.csvfile import open_csv
from ..readers.profiles import KINDS, ImportProfile, find_profile
from ..readers.sources import present, read_yaml_file, relative_name
from ..readers.vendor import Imported, read_vendor_files
from ..readers.yamlsrc import YMap


class ImportReport(NamedTuple):
    profile: ImportProfile
    imported: Imported
    written: dict[str, int]  # file -> rows this import put there
    dry_run: bool


def _imports(root: Path, problems: list[Problem]):
    """The `imports:` mapping of settings.yaml, if any."""
    path = root / "settings.yaml"
    data = read_yaml_file(path, root, problems) if present(path) else None
    return data.get("imports") if isinstance(data, YMap) else None


def run_import_exports(root: Path, month: Month, files: list[Path], profile_name: str, account: str = "",
                       dry_run: bool = False) -> ImportReport:
    config = read_config(root)
    problems: list[Problem] = []
    profile = find_profile(root, profile_name, _imports(root, problems), problems)
    if profile is None:
        raise InputErrors(problems)
    if account and account not in {c.account for c in config.clients}:
        raise InputErrors([Problem(None, f"--client {account}: no client file has this account")])
    if not account and not (profile.client_column or profile.account_column):
        raise InputErrors([Problem(profile.source, f"the profile '{profile.name}' reads one client's export "
                                   "(no client or account column)", "give the client: --client ACCOUNT")])
    imported = read_vendor_files(root, profile, files, month, config.clients, config.settings.timezone,
                                 config.settings.number_format, problems, account)
    if problems:
        raise InputErrors(problems)
    changes: dict[Path, str] = {}
    written: dict[str, int] = {}
    for row_month, rows in sorted(imported.rows.items()):
        target = root / "exports" / str(row_month) / KINDS[profile.kind]
        text, count = merged(target, relative_name(target, root), profile, rows, replace=row_month == month,
                             problems=problems)
        changes[target] = text
        written[relative_name(target, root)] = count
    if problems:
        raise InputErrors(problems)
    if not dry_run:
        journal.commit(root, changes, label=f"otb import-exports {month} --profile {profile.name}")
    return ImportReport(profile, imported, written, dry_run)


def merged(target: Path, name: str, profile: ImportProfile, rows: list[dict[str, str]], replace: bool,
           problems: list[Problem]) -> tuple[str, int]:
    """The export file with `rows` in it: this profile's earlier rows of the month replaced (`replace`), or rows
    added where they are not there yet; every other row kept as it was."""
    header = list(profile.our_columns) + ["source"]
    kept: list[dict[str, str]] = []
    if present(target):
        opened = open_csv(target, name, problems)
        if opened is None:
            return "", 0
        columns, records = opened
        header += [c for c in columns if c not in header]
        for record, _ in records:
            row = dict(zip(columns, (cell.strip() for cell in record), strict=False))
            if replace and row.get("source") == profile.name:
                continue
            kept.append(row)
    new = [dict(row, source=profile.name) for row in rows]
    if not replace:
        seen = {tuple(r.get(c, "") for c in header) for r in kept}
        new = [r for r in new if tuple(r.get(c, "") for c in header) not in seen]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(kept + new)
    return buffer.getvalue(), len(new)

"""Imports go one way: core <- readers, books, render <- jobs <- cli (and the Fava extension). A module that
imports against that direction fails here, naming the file, the line and the import."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "otb_billing"

# what each part of the package may import from otb_billing (besides itself)
ALLOWED = {
    "core": set(),
    "faults": set(),
    "fsutil": {"journal"},  # both are the file layer: fsutil writes the one file a user named
    "journal": {"core", "faults", "forked"},
    "forked": set(),
    "gcpause": set(),
    "outputs": {"journal", "faults", "forked"},  # build/ files, through the journal's replace and temp folder
    "filecache": {"core"},  # what readers made of unchanged files, kept by their stat
    "readers": {"core", "filecache"},
    "books": {"core", "faults", "fsutil", "journal", "filecache", "gcpause", "forked"},
    "render": {"core"},
    "jobs": {"core", "readers", "books", "render", "journal", "outputs", "faults", "fsutil", "filecache", "forked"},
    "fava_ext": {"core", "readers", "books", "render", "jobs"},
    "cli": {"core", "readers", "books", "render", "jobs", "journal", "outputs", "faults", "fsutil", "filecache",
            "gcpause"},
    "__main__": {"cli"},
    "__init__": set(),
}


def part_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_parts(path: Path):
    """(line, part of otb_billing imported) for every import in the file, inside functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    depth = len(path.relative_to(PACKAGE).parts) - 1  # folders below otb_billing
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.startswith("otb_billing."):
                    yield node.lineno, node.module.split(".")[1]
                continue
            up = node.level - 1  # `from .x` stays in the folder, `from ..x` goes to otb_billing
            if up < depth:
                continue  # within its own part
            if node.module:
                yield node.lineno, node.module.split(".")[0]
            else:
                for alias in node.names:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("otb_billing."):
                    yield node.lineno, alias.name.split(".")[1]


def test_imports_follow_the_layers():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = part_of(path)
        for line, target in imported_parts(path):
            if target != part and target not in ALLOWED[part]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {part} imports {target}")
    assert wrong == []


def test_the_check_sees_a_wrong_import(tmp_path, monkeypatch):
    """The test above can fail: a core module importing the CLI is caught."""
    core = tmp_path / "otb_billing" / "core"
    core.mkdir(parents=True)
    (core / "bad.py").write_text("from ..cli import main\nfrom .money import cents\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path / "otb_billing")
    assert list(imported_parts(core / "bad.py")) == [(1, "cli")]

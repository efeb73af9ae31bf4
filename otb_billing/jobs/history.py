"""`otb history [ACCOUNT]`: who changed a client's YAML, when, and each value old -> new, from git."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import NamedTuple

from ..core.errors import InputErrors, Problem, did_you_mean
from ..readers.config import read_config


class Change(NamedTuple):
    commit: str
    date: str
    author: str
    subject: str
    file: str
    edits: tuple[str, ...]  # "key: old -> new", "+ added line", "- removed line"


def _key(line: str) -> str:
    text = line.strip().lstrip("- ").strip()
    return text.split(":", 1)[0].strip() if ":" in text else ""


def pair_edits(removed: list[str], added: list[str]) -> list[str]:
    """Removed and added lines of one hunk, paired by their YAML key where both sides have it."""
    edits = []
    added_left = list(added)
    for old in removed:
        key = _key(old)
        match = next((new for new in added_left if key and _key(new) == key), None)
        if match is not None:
            added_left.remove(match)
            edits.append(f"{key}: {old.strip().split(':', 1)[1].strip()} -> {match.strip().split(':', 1)[1].strip()}")
        else:
            edits.append(f"- {old.strip()}")
    edits += [f"+ {new.strip()}" for new in added_left]
    return edits


def parse_log(text: str) -> list[Change]:
    """`git log -p` output (records split by \\x1e, header and diff by \\x1f) as one Change per commit and file."""
    changes: list[Change] = []
    for record in text.split("\x1e"):
        if not record.strip():
            continue
        head, _, diff = record.partition("\x1f")
        commit, date, author, subject = (head.strip().split("\x1d") + ["", "", "", ""])[:4]
        for section in diff.split("\ndiff --git ")[0:]:
            file, edits = "", []
            removed: list[str] = []
            added: list[str] = []
            for line in section.splitlines():
                if line.startswith("+++ "):
                    file = line[4:].removeprefix("b/")
                elif line.startswith("--- ") and line[4:] != "/dev/null" and not file:
                    file = line[4:].removeprefix("a/")
                elif line.startswith("@@"):
                    edits += pair_edits(removed, added)
                    removed, added = [], []
                elif line.startswith("-") and not line.startswith("---"):
                    removed.append(line[1:])
                elif line.startswith("+") and not line.startswith("+++"):
                    added.append(line[1:])
            edits += pair_edits(removed, added)
            edits = [e for e in edits if e.strip("+- ")]
            if file and file != "/dev/null":
                changes.append(Change(commit[:10], date, author, subject, file, tuple(edits)))
    return changes


def run_history(root: Path, account: str | None) -> list[Change]:
    if account:
        config = read_config(root)
        clients = {c.account: c for c in config.clients}
        if account not in clients:
            raise InputErrors([Problem(None, f"no client has account {account}", did_you_mean(account, clients))])
        paths = [clients[account].source.file]
    else:
        paths = ["clients"]
    command = ["git", "-C", str(root), "log", "--no-color", "--date=short", "--follow" if account else "--no-merges",
               "--format=%x1e%H%x1d%ad%x1d%an <%ae>%x1d%s%x1f", "-p", "--unified=0", "--", *paths]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InputErrors([Problem(None, "git is not installed; history comes from git")]) from None
    if done.returncode != 0:
        raise InputErrors([Problem(None, f"git log failed: {done.stderr.strip()}",
                                   "history needs the billing repo to be a git repository")])
    return parse_log(done.stdout)

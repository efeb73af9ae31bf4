"""build/ outputs staged on a thread (outputs.OutputStage): published whole, in place, only when asked; thrown away
when the change they belong to is not committed; a staging error raised before anything is renamed."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from otb_billing import outputs
from otb_billing.outputs import OutputStage, write_outputs


def _files(n: int, text: str = "row") -> dict[Path, bytes]:
    return {Path(f"build/2024-10/{i:04d}.csv"): f"{text} {i}\n".encode() for i in range(n)}


REAL_OPEN = os.open


def _disk_full_at(count: int, monkeypatch) -> None:
    """The `count`th file opened (by this process or a writer forked after this) finds the disk full."""
    opened = []

    def disk_full(path, flags, mode=0o777, **kwargs):
        opened.append(path)
        if len(opened) == count:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return REAL_OPEN(path, flags, mode, **kwargs)

    monkeypatch.setattr(outputs.os, "open", disk_full)


def test_a_background_stage_writes_nothing_until_published_then_every_file(tmp_path):
    stage = OutputStage(tmp_path, background=True)
    stage.add(_files(120))
    stage.add({Path("build/2024-10/report.json"): "{}\n"})
    assert not (tmp_path / "build").exists()
    written = stage.publish()
    assert len(written) == 121
    assert (tmp_path / "build/2024-10/0007.csv").read_bytes() == b"row 7\n"
    assert (tmp_path / "build/2024-10/report.json").read_text() == "{}\n"
    assert os.listdir(tmp_path / ".otb" / "tmp") == []  # every temp file renamed into place


def test_unchanged_files_are_left_alone_and_a_target_keeps_its_mode(tmp_path):
    write_outputs(tmp_path, _files(3))
    kept = tmp_path / "build/2024-10/0001.csv"
    os.chmod(kept, 0o600)
    before = kept.stat().st_mtime_ns, kept.stat().st_ino
    files = _files(3)
    files[Path("build/2024-10/0001.csv")] = b"changed\n"
    stage = OutputStage(tmp_path, background=True)
    stage.add(files)
    assert stage.publish() == [kept]
    assert kept.read_bytes() == b"changed\n"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert (kept.stat().st_mtime_ns, kept.stat().st_ino) != before
    assert write_outputs(tmp_path, files) == []  # all the same bytes now


def test_discard_leaves_build_as_it_was_and_no_temp_file(tmp_path):
    write_outputs(tmp_path, _files(2, "old"))
    stage = OutputStage(tmp_path, background=True)
    stage.add(_files(50, "new"))
    stage.discard()
    assert sorted(p.name for p in (tmp_path / "build/2024-10").iterdir()) == ["0000.csv", "0001.csv"]
    assert (tmp_path / "build/2024-10/0000.csv").read_bytes() == b"old 0\n"
    assert os.listdir(tmp_path / ".otb" / "tmp") == []


def test_a_staging_error_on_the_thread_is_raised_by_publish_before_any_file_is_replaced(tmp_path, monkeypatch):
    write_outputs(tmp_path, _files(30, "old"))
    _disk_full_at(20, monkeypatch)
    stage = OutputStage(tmp_path, background=True)
    stage.add(_files(30, "new"))
    with pytest.raises(OSError, match="No space left"):
        stage.publish()
    stage.discard()
    assert {p.read_bytes() for p in (tmp_path / "build/2024-10").iterdir()} == {f"old {i}\n".encode()
                                                                                for i in range(30)}
    assert os.listdir(tmp_path / ".otb" / "tmp") == []


def test_a_bill_refused_by_the_ledger_check_writes_nothing_to_build(repo, monkeypatch):
    """The outputs are staged while the check runs; a check that fails must leave build/ untouched."""
    repo.client("A1", name="Alpha Dental")
    repo.csv("2024-10", "users.csv", "account,user_id,name,email,active", "A1,u1,One,,true")
    from otb_billing.books import verify
    from otb_billing.core.errors import Problem

    monkeypatch.setattr(verify, "check_change", lambda root, staged, *_, **__: [Problem(None, "refused for the test")])
    result = repo.run("bill", "2024-10", "--no-pdf")
    assert result.exit_code != 0, result.output
    assert "refused for the test" in result.output
    assert not (repo.root / "build" / "2024-10").exists()
    assert not (repo.root / "ledger" / "invoices").exists()
    assert list((repo.root / ".otb" / "tmp").iterdir()) == []  # the staged CSVs were made, then thrown away


def test_build_files_that_cannot_be_written_after_the_ledger_is_give_a_clear_message_and_the_fix(
        repo, monkeypatch):
    repo.client("A1", name="Alpha Dental")
    repo.csv("2024-10", "users.csv", "account,user_id,name,email,active", "A1,u1,One,,true")
    real_open = os.open

    def disk_full(path, flags, mode=0o777, **kwargs):
        if "/.otb/tmp/" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(outputs.os, "open", disk_full)  # the forked writer inherits it
    result = repo.run("bill", "2024-10", "--no-pdf")
    assert result.exit_code == 1
    assert "build/2024-10: the ledger is written, but these files could not be: [Errno 28] No space left" \
        in result.output
    assert "run `otb export 2024-10` to write build/2024-10 again" in result.output
    assert "Traceback" not in result.output
    assert (repo.root / "ledger/invoices/2024/2024-10.beancount").is_file()
    assert not (repo.root / "build" / "2024-10").exists()
    monkeypatch.setattr(outputs.os, "open", real_open)
    assert repo.run("export", "2024-10").exit_code == 0
    assert {"Alpha Dental-A1-202410.csv", "invoices-2024-10.zip", "quickbooks-invoices-2024-10.csv"} <= {
        p.name for p in (repo.root / "build/2024-10").iterdir()}


def test_a_new_folder_is_staged_whole_and_renamed_into_place_at_once(tmp_path, monkeypatch):
    """build/MONTH of a month billed anew: its files are written under their own names in a scratch copy of the
    folder, which publish renames into place (one rename, not one per file); nothing shows in build/ before."""
    replaced = []
    monkeypatch.setattr(outputs, "replace_into", lambda source, target: replaced.append(target))
    (tmp_path / "build").mkdir()
    stage = OutputStage(tmp_path, background=True)
    stage.add(_files(40))
    stage.flush()
    time.sleep(0.3)  # the writer has made them by now
    (copy,) = os.listdir(tmp_path / ".otb" / "tmp")
    assert copy == f"{stage._child.pid}-folder-1"
    assert sorted(os.listdir(tmp_path / ".otb" / "tmp" / copy)) == [f"{i:04d}.csv" for i in range(40)]
    assert os.listdir(tmp_path / "build") == []
    written = stage.publish()
    assert written == [tmp_path / f"build/2024-10/{i:04d}.csv" for i in range(40)]
    assert replaced == []  # the folder moved whole
    assert {p.name: p.read_bytes() for p in (tmp_path / "build/2024-10").iterdir()} == {
        f"{i:04d}.csv": f"row {i}\n".encode() for i in range(40)}
    assert os.stat(tmp_path / "build/2024-10/0003.csv").st_mode & 0o777 == 0o666 & ~_umask()
    assert os.listdir(tmp_path / ".otb" / "tmp") == []


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_a_stage_published_into_a_new_folder_stages_what_comes_next_file_by_file(tmp_path):
    stage = OutputStage(tmp_path)  # without a writer: the folders are this process's to remember
    stage.add(_files(3))
    assert len(stage.publish()) == 3
    stage.add(_files(4, "more"))
    assert len(stage.publish()) == 4
    assert (tmp_path / "build/2024-10/0003.csv").read_bytes() == b"more 3\n"
    assert os.listdir(tmp_path / ".otb" / "tmp") == []


def test_a_new_folder_made_meanwhile_gets_the_files_one_by_one_and_keeps_its_own(tmp_path):
    stage = OutputStage(tmp_path, background=True)
    stage.add(_files(5))
    stage.flush()
    time.sleep(0.3)
    (tmp_path / "build/2024-10").mkdir(parents=True)  # by someone else, after the writer found it missing
    (tmp_path / "build/2024-10/notes.txt").write_text("mine\n")
    assert len(stage.publish()) == 5
    assert sorted(p.name for p in (tmp_path / "build/2024-10").iterdir()) == [
        "0000.csv", "0001.csv", "0002.csv", "0003.csv", "0004.csv", "notes.txt"]
    assert (tmp_path / "build/2024-10/0004.csv").read_bytes() == b"row 4\n"
    assert os.listdir(tmp_path / ".otb" / "tmp") == []


def test_a_new_folder_discarded_or_failed_half_way_leaves_nothing(tmp_path, monkeypatch):
    discarded = OutputStage(tmp_path, background=True)
    discarded.add(_files(20))
    discarded.discard()
    assert not (tmp_path / "build").exists()
    assert os.listdir(tmp_path / ".otb" / "tmp") == []
    for background in (True, False):
        _disk_full_at(12, monkeypatch)
        stage = OutputStage(tmp_path, background=background)
        with pytest.raises(OSError, match="No space left"):
            stage.add(_files(20))
            stage.publish()
        stage.discard()
        assert not (tmp_path / "build").exists()
        assert os.listdir(tmp_path / ".otb" / "tmp") == []

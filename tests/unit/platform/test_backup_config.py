"""Backups without a cluster: the archive settings PostgreSQL gets (through supervisor), pgBackRest's config,
and a restore refused before anything is stopped (backups off; no backup before the time; another version)."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reelgate.platform import backup
from reelgate.platform.backup import pgbackrest, restic
from reelgate.platform.backup.tool import run_tool
from reelgate.platform.pipeline.media import MediaStore
from reelgate.platform.settings import Settings
from reelgate.platform.stack.paths import StackError


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(home=str(tmp_path), port_base=8700, **extra)


def test_postgres_archives_through_pgbackrest_with_a_bounded_timeout(tmp_path: Path) -> None:
    settings = _settings(tmp_path, backup_dir=str(tmp_path / "b"), archive_timeout_s=15)
    args = shlex.split(pgbackrest.postgres_flags(settings))
    assert "archive_mode=on" in args and "archive_timeout=15" in args and "wal_level=replica" in args
    command = next(a for a in args if a.startswith("archive_command="))
    # supervisor reads `%%` as `%`: PostgreSQL then gets `%p`, the segment's path
    assert command.endswith("archive-push %%p") and f"--config={pgbackrest.config_path(settings)}" in command


def test_the_config_names_the_repository_the_cluster_and_its_socket(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(pgbackrest, "run_as_postgres", lambda: False)
    settings = _settings(tmp_path, backup_dir=str(tmp_path / "b"))
    monkeypatch.setattr(pgbackrest, "pg_data_dir", lambda _s: tmp_path / "var" / "pg")
    pgbackrest.write_config(settings)
    text = pgbackrest.config_path(settings).read_text()
    assert f"repo1-path={tmp_path / 'b' / 'postgres'}" in text and "pg1-port=8703" in text
    assert f"pg1-socket-path={tmp_path / 'var' / 'socket'}" in text and "[reelgate]" in text


def _never() -> None:
    raise AssertionError("the stack was stopped before the restore was refused")


def test_a_restore_is_refused_before_anything_stops(tmp_path: Path, monkeypatch: Any) -> None:
    with pytest.raises(StackError, match="backups are off"):
        backup.restore(_settings(tmp_path), None, _never, _never)
    settings = _settings(tmp_path, backup_dir=str(tmp_path / "b"))
    made = {"label": "20261208-010805F", "type": "full", "timestamp": {"start": 1796691900, "stop": 1796691910},
            "annotation": {"reelgate-version": "0.0.1"}}  # fmt: skip
    monkeypatch.setattr(pgbackrest, "info", lambda _s: {"backup": [made]})
    with pytest.raises(StackError, match="is in the future: restore to a past time, or to `latest`"):
        backup.restore(settings, datetime(2999, 1, 1, tzinfo=UTC), _never, _never)
    with pytest.raises(StackError, match="no database backup before"):
        backup.restore(settings, datetime(2020, 1, 1, tzinfo=UTC), _never, _never)
    with pytest.raises(StackError, match=r"made by reelgate 0\.0\.1, this is reelgate .*restore with reelgate 0\.0\.1"):
        backup.restore(settings, None, _never, _never)


def test_a_missing_or_failing_tool_is_one_clear_sentence() -> None:
    with pytest.raises(StackError, match=r"reelgate-no-such-tool is not installed \(apt-get install"):
        run_tool(["reelgate-no-such-tool"], {}, 5, "x", "reelgate-no-such-tool")
    with pytest.raises(StackError, match=r"restic check on media failed \(3\): one \| two"):
        run_tool(["sh", "-c", "echo one >&2; echo two >&2; exit 3"], {}, 5, "restic check on media", "sh")


def test_a_missing_backup_key_is_named_and_never_replaced_by_a_new_one(tmp_path: Path) -> None:
    """A new machine without the key: reading the backups says which file to put back; it does not make a
    new key (which would read nothing)."""
    settings = _settings(tmp_path, backup_dir=str(tmp_path / "b"), backup_key_file=str(tmp_path / "kept" / "key"))
    with pytest.raises(StackError, match=r"the backup key .*kept/key is missing: put back the copy"):
        restic.run(settings, "media", "snapshots", "--json")
    assert not (tmp_path / "kept" / "key").exists()


def test_a_restore_takes_the_first_media_snapshot_at_or_after_its_time(tmp_path: Path, monkeypatch: Any) -> None:
    taken = [{"id": n, "time": f"2026-12-08T10:{m:02d}:00+00:00"} for n, m in (("a", 0), ("b", 5), ("c", 10))]
    monkeypatch.setattr(restic, "snapshots", lambda _s, _name: taken)
    settings = _settings(tmp_path, backup_dir=str(tmp_path / "b"))

    def chosen(minute: int | None) -> str:
        to = None if minute is None else datetime(2026, 12, 8, 10, minute, tzinfo=UTC)
        return str((backup._media_snapshot(settings, to) or {}).get("id"))

    # files are never rewritten and deleted ones wait in the trash: the next snapshot holds what `to` referred to
    assert [chosen(3), chosen(5), chosen(12), chosen(None)] == ["b", "b", "c", "c"]  # none after 10:12: the newest


def test_a_media_only_run_needs_a_database_backup_first(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(pgbackrest, "info", lambda _s: {})
    settings = _settings(tmp_path, backup_dir=str(tmp_path / "b"))
    with pytest.raises(StackError, match="missing or not a media store"):
        backup.run(settings, media_only=True)  # checked before anything else
    MediaStore(settings.media)
    with pytest.raises(StackError, match="no database backup yet: run `reelgate backup run` once first"):
        backup.run(settings, media_only=True)

"""atomic_write: the old file survives any failure; no temporary file is left behind."""

import os

import pytest

from engine.teach.files import atomic_write


def test_writes_text_and_bytes(tmp_path):
    assert atomic_write(tmp_path / "a.txt", "héllo").read_text(encoding="utf-8") == "héllo"
    assert atomic_write(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "model.json"
    target.write_text("old and good")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, "new" * 1000)
    assert target.read_text() == "old and good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary left


def test_an_interrupt_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "page.html"
    target.write_text("old")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    target = tmp_path / "shared.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic_write(target, "new")
    assert target.stat().st_mode & 0o777 == 0o640


def test_refuses_what_is_not_text_or_bytes(tmp_path):
    with pytest.raises(TypeError, match="str or bytes"):
        atomic_write(tmp_path / "x", 3)
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / "x.txt", "data")

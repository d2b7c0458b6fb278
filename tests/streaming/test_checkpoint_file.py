"""Checkpoint files: atomic replacement, round trips, refusal of what is not a checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hiveframe._protocol.checkpoint import Checkpoint, check_stream_name, checkpoint_path
from hiveframe.errors import ConfigError


def sample(**changes) -> Checkpoint:
    fields = {
        "stream": "orders",
        "kind": "sse",
        "source": "https://api.test/stream?api_key=***",
        "position": {"kind": "sse", "last_event_id": "42", "retry_ms": 1500},
        "records_out": 42,
        "batches": 5,
        "saved_at": 1_800_000_000.5,
        **changes,
    }
    return Checkpoint(**fields)


def test_save_and_load_round_trip(tmp_path):
    path = checkpoint_path(tmp_path / "nested" / "dir", "orders")
    sample().save(path)
    assert path == tmp_path / "nested" / "dir" / "orders.json"
    assert Checkpoint.load(path) == sample()


def test_no_file_means_no_checkpoint(tmp_path):
    assert Checkpoint.load(tmp_path / "absent.json") is None


def test_a_save_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "orders.json"
    sample().save(path)
    sample(records_out=43).save(path)
    assert Checkpoint.load(path).records_out == 43
    assert [p.name for p in tmp_path.iterdir()] == ["orders.json"]


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "orders.json"
    sample().save(path)

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        sample(records_out=99).save(path)
    assert Checkpoint.load(path) == sample()  # the old one, whole
    assert [p.name for p in tmp_path.iterdir()] == ["orders.json"]  # the temporary file is gone


def test_the_file_is_plain_json_with_a_version(tmp_path):
    path = tmp_path / "orders.json"
    sample().save(path)
    text = path.read_text()
    assert '"version": 1' in text and '"last_event_id": "42"' in text


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"[]", b'{"version": 99}', b'{"version": 1, "stream": "x"}'],
)
def test_what_is_not_a_checkpoint_is_refused_by_name(tmp_path, content):
    path = tmp_path / "orders.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        Checkpoint.load(path)
    assert info.value.option == "checkpoint_dir"


@pytest.mark.parametrize("name", ["orders", "stream-0", "a.b_c-9", "X" * 128])
def test_stream_names_that_make_file_names(name):
    assert check_stream_name(name) == name


@pytest.mark.parametrize("name", ["", "../up", "a/b", ".hidden", "-x", "x" * 129, 5, None])
def test_stream_names_that_would_escape_or_hide_are_refused(name):
    with pytest.raises(ConfigError) as info:
        check_stream_name(name)
    assert info.value.option == "name"


def test_checkpoint_path_is_inside_the_folder(tmp_path):
    assert checkpoint_path(str(tmp_path), "s1") == Path(tmp_path) / "s1.json"

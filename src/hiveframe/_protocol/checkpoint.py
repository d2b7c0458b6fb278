"""Stream checkpoints: a source's position, saved so that a restart loses and repeats nothing.

One JSON file per stream, ``<checkpoint_dir>/<stream name>.json``, replaced atomically: the
new content goes to a temporary file in the same directory, is flushed and ``fsync``-ed, and
``os.replace`` swaps it in (atomic on POSIX and Windows); the directory is then ``fsync``-ed
so the rename itself survives a power cut. A reader therefore sees the old checkpoint or the
new one, never a torn file.

The file records which source it belongs to (kind and redacted URL): resuming a stream
from another source's position would silently skip or repeat data, so it is refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hiveframe.errors import ConfigError

__all__ = [
    "CHECKPOINT_VERSION",
    "Checkpoint",
    "checkpoint_path",
    "check_stream_name",
    "write_atomically",
]

CHECKPOINT_VERSION = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class Checkpoint:
    """What a stream saves after its sink acknowledged a batch.

    Parameters
    ----------
    stream
        The stream's name (the file name without ``.json``).
    kind
        ``"poll"`` or ``"sse"``.
    source
        The source URL, credentials redacted.
    position
        The source's position after the last acknowledged record (plain JSON).
    records_out
        Records acknowledged by the sink over the stream's life, restarts included.
    batches
        Batches acknowledged over the stream's life.
    saved_at
        Wall-clock epoch seconds of the save.

    Examples
    --------
    >>> cp = Checkpoint("orders", "sse", "https://api.test/stream", {"last_event_id": "7"})
    >>> Checkpoint.from_json(cp.to_json()) == cp
    True
    """

    stream: str
    kind: str
    source: str
    position: dict[str, Any] = field(default_factory=dict)
    records_out: int = 0
    batches: int = 0
    saved_at: float = 0.0

    def to_json(self) -> bytes:
        """The file content."""
        document = {"version": CHECKPOINT_VERSION, **asdict(self)}
        return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_json(cls, data: bytes, *, where: str = "checkpoint") -> Checkpoint:
        """Parse a checkpoint file.

        Raises
        ------
        ConfigError
            ``option="checkpoint_dir"`` when the file is not a checkpoint this version reads.
        """
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ConfigError("checkpoint_dir", where, f"not a checkpoint file ({exc})") from None
        if not isinstance(document, dict) or document.get("version") != CHECKPOINT_VERSION:
            raise ConfigError(
                "checkpoint_dir", where, f"not a version {CHECKPOINT_VERSION} checkpoint file"
            )
        try:
            return cls(
                stream=str(document["stream"]),
                kind=str(document["kind"]),
                source=str(document["source"]),
                position=dict(document["position"]),
                records_out=int(document.get("records_out", 0)),
                batches=int(document.get("batches", 0)),
                saved_at=float(document.get("saved_at", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError("checkpoint_dir", where, f"malformed checkpoint ({exc})") from None

    def save(self, path: Path) -> None:
        """Write atomically to ``path`` (see :func:`write_atomically`)."""
        write_atomically(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        """The checkpoint at ``path``, or ``None`` when there is none yet."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return cls.from_json(data, where=str(path))


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: a reader sees the old file or the new one.

    The data goes to a temporary file in the same folder (created if missing), is flushed
    and ``fsync``-ed, ``os.replace`` swaps it in, and the folder is ``fsync``-ed so that the
    rename survives a power cut. Checkpoints and incremental state files are written so.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
    _fsync_directory(path.parent)


def append_durably(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` and ``fsync`` it before returning.

    Dead-letter files and JSON Lines outputs are appended so: a line is on disk before the
    write it records counts as done.
    """
    with path.open("ab") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def check_stream_name(name: Any) -> str:
    """A stream name usable as a file name: letters, digits, ``_ . -``; up to 128 characters.

    Raises
    ------
    ConfigError
        ``option="name"`` otherwise.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            "name", name, "letters, digits, '_', '.' and '-' (starting with a letter or digit)"
        )
    return name


def checkpoint_path(directory: str | os.PathLike[str], stream: str) -> Path:
    """Where the checkpoint of ``stream`` lives in ``directory``."""
    return Path(directory) / f"{check_stream_name(stream)}.json"


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable on POSIX; directories cannot be opened this way on Windows.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""The delivery journal: which requests a write's task attempts had acknowledged.

With the ``delivery_journal`` option (a folder every executor and the driver can reach),
each task attempt appends one line per acknowledged request, ``<idempotency key> <records>``,
to a file of its own, flushed at once. It serves twice:

- a re-run of a partition (Spark's task retry, or the whole write run again) skips the
  requests an earlier attempt had delivered: content order gives them the same keys, so a
  server that ignores ``Idempotency-Key`` does not store them twice;
- the driver adds up what attempts that never reported (failed, or killed when the job
  aborted) had delivered, which no commit message can carry.

Files are named ``part-<partition>-<write id>-<task attempt id>.keys``: a partition's
files are found by its number, a write's by its id.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from types import TracebackType
from typing import TextIO

from hiveframe._protocol.batching import RequestBatch
from hiveframe.errors import ConfigError


def journal_folder(option: str) -> Path:
    """The journal's folder, created if need be (on the driver, before any task starts).

    Raises
    ------
    ConfigError
        The path is a file, or the folder cannot be created.
    """
    folder = Path(option)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("delivery_journal", option, f"cannot create the folder: {exc}") from None
    return folder


class TaskJournal:
    """One task attempt's journal: what earlier attempts of its partition delivered, and its own.

    Parameters
    ----------
    folder
        The ``delivery_journal`` folder.
    partition, write_id, task_id
        Whose file this is: the Spark partition, the write, the task attempt (unique in the
        Spark application).

    Attributes
    ----------
    records_skipped
        Records of requests not sent because an earlier attempt had delivered them.
    path
        This attempt's file, once it recorded a request.
    """

    def __init__(self, folder: Path, *, partition: int, write_id: str, task_id: int) -> None:
        prefix = f"part-{partition:05d}-"
        self._file_path = folder / f"{prefix}{write_id}-{task_id}.keys"
        self._earlier = {key for key, _ in _entries(folder.glob(f"{prefix}*.keys"))}
        self._file: TextIO | None = None
        self.records_skipped = 0
        self.path: str | None = None

    def __enter__(self) -> TaskJournal:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()

    def delivered_before(self, batch: RequestBatch) -> bool:
        """True (and counted) if an earlier attempt delivered this request."""
        if batch.key not in self._earlier:
            return False
        self.records_skipped += batch.count
        return True

    def record(self, batch: RequestBatch) -> None:
        """Append the acknowledged request, flushed before the next one is recorded."""
        if self._file is None:
            self._file = self._file_path.open("a", encoding="ascii")
            self.path = str(self._file_path)
        self._file.write(f"{batch.key} {batch.count}\n")
        self._file.flush()


def unreported_deliveries(folder: Path, write_id: str, reported: Collection[str]) -> int:
    """Records that this write's attempts without a commit message had delivered.

    Parameters
    ----------
    folder
        The ``delivery_journal`` folder.
    write_id
        The write's id.
    reported
        The journal files of the attempts that reported (``DeliveryReport.journal_path``).
    """
    files = (p for p in folder.glob(f"part-*-{write_id}-*.keys") if str(p) not in reported)
    return sum(records for _, records in _entries(files))


def _entries(paths: Iterable[Path]) -> Iterable[tuple[str, int]]:
    for path in paths:
        for line in path.read_text(encoding="ascii").splitlines(keepends=True):
            if line.endswith("\n"):  # a line cut short by a crash: its request may go again
                key, records = line.split()
                yield key, int(records)

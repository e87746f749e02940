"""Surviving kills and interrupts: stale temp-file cleanup, SIGINT / SIGTERM capture, a test hook.

:func:`translate.fileio.atomic_writer` writes ``.<name>.<random>.tmp`` beside each file and
renames it at the end, so a ``kill -9`` can only leave such temp files behind, never a torn
checkpoint; :func:`remove_stale_temp_files` deletes them when a run is resumed. :class:`StopSignals`
turns Ctrl-C / SIGTERM into a flag that the training loop checks between iterations, so it can
save a checkpoint at the current iteration before exiting with code 130. No torch here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Iterable

from translate.fileio import temp_file_owner, temp_name_pattern, temp_owner_key

#: Names atomic_writer gives its temp files: ``.<final name>.<mkstemp suffix>.tmp``.
_TEMP_NAME = temp_name_pattern()

#: Test-only: seconds to sleep inside a checkpoint save, after the data is written to the temp
#: file and before its rename, so a test can land a ``kill -9`` in the middle of a save.
SAVE_PAUSE_ENV = "TRANSLATE_TEST_SAVE_PAUSE"


def remove_stale_temp_files(folders: Iterable[str | os.PathLike]) -> list[Path]:
    """Delete temp files left by a killed :func:`~translate.fileio.atomic_writer` in ``folders``.

    Only names of the exact form atomic_writer creates (``.NAME.XXXX.tmp``) directly in each
    folder are removed; returns the removed paths. Call it only when no other process writes
    to the run folder (at the start of a resumed run).
    """
    removed = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and _TEMP_NAME.match(path.name):
                with contextlib.suppress(OSError):  # gone already, or a read-only folder: harmless
                    path.unlink()
                    removed.append(path)
    return removed


def remove_stale_temp_files_of(targets: Iterable[str | os.PathLike]) -> list[Path]:
    """Delete the temp files a killed :func:`~translate.fileio.atomic_writer` left for ``targets``.

    For each target file only regular files named exactly as atomic_writer names that
    target's temp files, beside it, are removed (never the target, never a symlink, never
    anything else in the folder); returns the removed paths. For commands such as
    ``translate run`` that are about to write those targets again.
    """
    by_folder: dict[Path, set[str]] = {}
    for target in targets:
        by_folder.setdefault(Path(target).parent, set()).add(temp_owner_key(target))
    removed = []
    for folder, owners in by_folder.items():
        try:
            names = os.listdir(folder)
        except OSError:  # not created yet, or unreadable: nothing of ours can be there
            continue
        for name in names:
            if temp_file_owner(name) not in owners:
                continue
            path = folder / name
            with contextlib.suppress(OSError):
                if stat.S_ISREG(path.lstat().st_mode):
                    path.unlink()
                    removed.append(path)
    return removed


def pause_inside_save() -> None:
    """Sleep ``$TRANSLATE_TEST_SAVE_PAUSE`` seconds (test hook; does nothing when unset)."""
    seconds = os.environ.get(SAVE_PAUSE_ENV)
    if seconds:
        time.sleep(float(seconds))


class StopSignals:
    """Context manager: while active, SIGINT and SIGTERM set :attr:`signum` instead of killing.

    The loop polls :attr:`requested` between iterations, saves, and exits. A second signal of
    the same kind restores the default behaviour (raises KeyboardInterrupt / terminates), so a
    user can still force an exit. Outside the main thread it does nothing (signals cannot be
    handled there).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # second signal: give up gracefully waiting
            self._restore()
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            os.kill(os.getpid(), signum)
            return
        self.signum = signum

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()


def ignore_stop_signals(worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: data workers ignore SIGINT and SIGTERM.

    ``timeout``, Slurm, Kubernetes, systemd and Ctrl-C signal the whole process group. The main
    process owns shutdown (it saves ``latest.pt`` at the current iteration, then stops the
    workers); a worker that died of the signal first would make the main process raise
    "DataLoader worker is killed by signal" instead of saving. PyTorch installs its own SIGTERM
    handler in each worker before calling this, so ignoring here wins.
    """
    for signum in StopSignals.SIGNALS:
        signal.signal(signum, signal.SIG_IGN)

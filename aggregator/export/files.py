"""Files and directories written beside their destination and renamed into place, so that a
failed export leaves neither a half-written file nor a half-filled directory."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aggregator.export.catalogue import ExportError

PACKAGE_FILE = "datapackage.json"  # marks a directory as an export this tool may replace


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.{suffix}")


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yields a temporary path in ``path``'s directory; it becomes ``path`` when the block
    succeeds and is removed when it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _beside(path, "tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_dir(directory: Path) -> Iterator[Path]:
    """Yields a new empty directory beside ``directory``; when the block succeeds it takes the
    place of ``directory`` (replacing an earlier export there), when it fails it is removed.

    An existing ``directory`` is replaced only when it is empty or holds a datapackage.json,
    never a directory of something else.
    """
    if directory.exists() and not (
        directory.is_dir()
        and ((directory / PACKAGE_FILE).is_file() or not any(directory.iterdir()))
    ):
        raise ExportError(
            f"{directory} exists and is not an earlier export (no {PACKAGE_FILE}): "
            "choose a new directory"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    temporary = _beside(directory, "tmp")
    temporary.mkdir()
    try:
        yield temporary
        if directory.exists():
            old = _beside(directory, "old")
            directory.rename(old)
            temporary.rename(directory)
            shutil.rmtree(old)
        else:
            temporary.rename(directory)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise

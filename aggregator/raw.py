"""The raw store: every response body kept once, named by its sha256, never overwritten.

File names come from content only, so no URL (and no key in a URL) ever reaches disk. A store
that cannot be written (read-only folder, full disk) raises AggregatorError naming the store
and the system's reason, which fails the download's source only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aggregator.errors import AggregatorError


@dataclass(frozen=True)
class StoredBody:
    sha256: str
    bytes: int
    path: Path


class RawStore:
    def __init__(self, root: Path):
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def writer(self) -> BodyWriter:
        with self.writing():
            self.root.mkdir(parents=True, exist_ok=True)
            return BodyWriter(self)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise AggregatorError(
                f"cannot write the raw store {self.root}: {exc.strerror or exc}"
            ) from None


class BodyWriter:
    """Streams a body to a temporary file while hashing it, then moves it into place.

    Used as a context manager: on error the temporary file is removed, so the store only
    ever holds complete bodies.
    """

    def __init__(self, store: RawStore):
        self.store = store
        self.hash = hashlib.sha256()
        self.size = 0
        fd, name = tempfile.mkstemp(dir=store.root, prefix=".incoming-")
        self.tmp = Path(name)
        self.file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        self.size += len(chunk)
        with self.store.writing():
            self.file.write(chunk)

    def commit(self) -> StoredBody:
        sha = self.hash.hexdigest()
        final = self.store.path_for(sha)
        with self.store.writing():
            self.file.close()
            if final.exists():
                self.tmp.unlink()
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.tmp, final)
        return StoredBody(sha256=sha, bytes=self.size, path=final)

    def __enter__(self) -> BodyWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        # After a failed write too: an error of the clean-up must not replace the write's.
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink(missing_ok=True)

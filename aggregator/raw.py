"""The raw store: every response body kept once, named by its sha256, never overwritten.

File names come from content only, so no URL (and no key in a URL) ever reaches disk.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


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
        self.root.mkdir(parents=True, exist_ok=True)
        return BodyWriter(self)


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
        self.file.write(chunk)

    def commit(self) -> StoredBody:
        self.file.close()
        sha = self.hash.hexdigest()
        final = self.store.path_for(sha)
        if final.exists():
            self.tmp.unlink()
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp, final)
        return StoredBody(sha256=sha, bytes=self.size, path=final)

    def __enter__(self) -> BodyWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.file.closed:
            self.file.close()
        self.tmp.unlink(missing_ok=True)

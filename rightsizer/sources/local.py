"""A CloudTrail tree in a local directory (for example a copy made with `aws s3 sync`)."""

from __future__ import annotations

import os
from pathlib import Path

from rightsizer.errors import SourceError
from rightsizer.sources.base import LOGS_FOLDER, Folder, LogFile, LogSource


class LocalSource(LogSource):
    """Log files under `root/AWSLogs/`; `root` may also be given as the AWSLogs folder itself."""

    concurrency = 1  # a directory listing is a cheap system call; threads would not help

    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        root = Path(spec).expanduser()
        if not root.is_dir():
            raise SourceError(
                f"log source {spec} is not a directory; pass a CloudTrail tree or s3://bucket"
            )
        self.root = root.parent if root.name == LOGS_FOLDER else root

    def list_folder(self, path: str) -> Folder:
        folder = Folder()
        try:
            with os.scandir(self.root / path) as entries:
                for entry in entries:
                    if entry.is_dir():
                        folder.folders.append(entry.name)
                    elif entry.is_file():
                        # Size and modification time tell one content from another.
                        stat = entry.stat()
                        folder.files.append((entry.name, stat.st_size, str(stat.st_mtime_ns)))
        except FileNotFoundError:
            return folder
        except OSError as exc:
            raise SourceError(f"cannot list {self.root / path}: {exc.strerror}") from None
        folder.folders.sort()
        return folder

    def read(self, file: LogFile) -> bytes:
        path = self.root / file.key
        try:
            return path.read_bytes()
        except OSError as exc:
            raise SourceError(
                f"cannot read {path}: {exc.strerror}; fix access or rerun to continue"
            ) from None

    def missing_logs_message(self) -> str:
        return (
            f"no {LOGS_FOLDER}/ folder in {self.root}; point --source at the folder that "
            f"holds {LOGS_FOLDER}/ (the trail's bucket or key prefix)"
        )

    def close(self) -> None:
        """Nothing to release: every read opens and closes its own file."""

"""Put the project root and platform/ on sys.path (used by WSGI/ASGI and the Celery entry)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def add_project_paths() -> None:
    """Make `poseloop`, `accounts`, … and `annotation`, `learning` importable."""
    for path in (ROOT, ROOT / "platform"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))

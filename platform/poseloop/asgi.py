"""ASGI entry point."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from poseloop.paths import add_project_paths  # noqa: E402

add_project_paths()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "poseloop.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()

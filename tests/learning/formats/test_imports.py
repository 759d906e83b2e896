"""The format adapters stay pure: no Django, no other PoseLoop app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_adapters_import_without_django() -> None:
    code = (
        "import sys\n"
        "import learning.formats.coco, learning.formats.dlc, learning.formats.pose_table\n"
        "import learning.formats.sleap, learning.formats.collected_data\n"
        "import learning.formats.lightning_pose\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'rest_framework', 'annotation', 'poseloop', 'projects', 'videos'})\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr

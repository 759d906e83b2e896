"""learning.geometry is Django-free, like learning.engine: a test walks its imports."""

import pkgutil
import subprocess
import sys

import learning.geometry


def test_geometry_imports_nothing_from_django_or_apps() -> None:
    modules = [f"learning.geometry.{m.name}"
               for m in pkgutil.iter_modules(learning.geometry.__path__)]
    assert "learning.geometry.triangulate" in modules and "learning.geometry.session" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'rest_framework', 'celery', 'poseloop', 'annotation', 'projects', 'accounts',"
        " 'videos', 'cameras', 'torch'}"
        " or (m.startswith('learning.') and not m.startswith(('learning.geometry',"
        " 'learning.formats'))))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

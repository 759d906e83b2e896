import pkgutil
import subprocess
import sys

import learning.engine


def test_engine_imports_nothing_from_django_or_apps() -> None:
    modules = [f"learning.engine.{m.name}" for m in pkgutil.iter_modules(learning.engine.__path__)]
    assert "learning.engine.train" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'rest_framework', 'celery', 'poseloop', 'annotation', 'projects', 'accounts'}"
        " or (m.startswith('learning.') and not m.startswith('learning.engine')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

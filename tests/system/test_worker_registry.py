"""The worker that `make run` and the compose file start knows every task the code defines.

A task module the worker does not import is invisible to it: its messages are dropped as
"unregistered" and the job they belong to stays queued. The code's tasks are found by reading
the source (every function decorated with `shared_task` / `app.task`), not by importing it,
so a new tasks module nobody wired up shows here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from poseloop.stack import ROOT, processes

pytestmark = [pytest.mark.system]

SOURCE_DIRS = [ROOT / "annotation", ROOT / "learning", ROOT / "platform"]


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT)
    parts = list(relative.with_suffix("").parts)
    if parts[0] == "platform":  # a plain folder on sys.path, not a package
        parts = parts[1:]
    return ".".join(parts)


def _task_name(node: ast.FunctionDef, module: str) -> str | None:
    for decorator in node.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = call.func if call else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name not in {"shared_task", "task"}:
            continue
        for keyword in call.keywords if call else []:
            if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                return keyword.value.value
        return f"{module}.{node.name}"
    return None


def defined_tasks() -> set[str]:
    names = set()
    for folder in SOURCE_DIRS:
        for path in folder.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            module = _module_name(path)
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef) and (name := _task_name(node, module)):
                    names.add(name)
    return names


def test_the_source_scan_finds_the_known_tasks():
    found = defined_tasks()
    assert {"learning.tasks.train_model_task", "learning.tasks.score_project_task",
            "learning.tasks.analyze_merge_task", "videos.tasks.extract_frames_task",
            "jobs.tasks.heartbeat"} <= found


def test_the_running_worker_registers_every_task_the_code_defines(live):
    registered = set(live.stack.registered_tasks())
    missing = defined_tasks() - registered
    assert not missing, f"tasks the worker does not know (import them in a tasks.py): {missing}"


def test_compose_workers_start_the_same_app_as_make_run():
    """The compose workers run the command the tested worker runs (only queues differ)."""
    compose = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())
    tested = processes("127.0.0.1", 8000, 1, ROOT / "var")["worker"]
    assert tested[1:4] == ["-A", "poseloop", "worker"]
    workers = [s for s in compose["services"].values()
               if " ".join(s.get("command", [])[:4]) == "celery -A poseloop worker"]
    assert len(workers) >= 2, "expected the default/inference worker and the training worker"
    queues = {q for s in workers for q in s["command"][s["command"].index("-Q") + 1].split(",")}
    assert queues == set(tested[tested.index("-Q") + 1].split(","))

"""Training goes to its own queue (GPU machines take it); inference and scoring fan out."""

import pytest

from poseloop.celery import app


@pytest.mark.parametrize("task, queue", [
    ("learning.tasks.train_model_task", "training"),
    ("learning.tasks.train_scheduled_task", "training"),
    ("learning.tasks.analyze_chunk_task", "inference"),
    ("learning.tasks.score_frames_task", "inference"),
    ("videos.tasks.extract_frames_task", "default"),
    ("jobs.tasks.heartbeat", "default"),
])
def test_task_routes(task, queue):
    route = app.amqp.router.route({}, task)
    assert route["queue"].name == queue

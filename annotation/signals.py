"""Signals of the annotation app, and its receiver for new frames.

`labels_changed` is sent after the transaction commits, once per counted label save (a
submit, a reviewer's correction, an import). Arguments: project_id, frame_id, annotator_id.
The learning app listens to it to retrain after N new labels.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

from annotation.models import QueueReason

labels_changed = Signal()


def enqueue_new_frames(sender: Any, *, project_id: int, frame_ids: list[int],
                       reason: str = QueueReason.MANUAL, **kwargs: Any) -> None:
    """Receiver of videos.signals.frames_added: new frames become queue entries."""
    from annotation.queue import enqueue_frames

    if reason not in QueueReason.values:
        reason = QueueReason.MANUAL
    enqueue_frames(project_id, frame_ids, reason=reason)

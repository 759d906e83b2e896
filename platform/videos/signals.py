"""Signals other apps listen to (the annotation queue takes new frames from here)."""

from django.dispatch import Signal

# Sent after frames were created and committed. Arguments: project_id, frame_ids, reason.
frames_added = Signal()

# Sent after a video was added to a project and committed. Arguments: project_id, video_id.
video_added = Signal()

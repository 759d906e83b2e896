"""Celery tasks of the cameras app (thin: take ids, run one function inside the job)."""

from __future__ import annotations

from celery import shared_task
from django.core.exceptions import ValidationError

from jobs.progress import JobCancelled, running


@shared_task(acks_late=True, ignore_result=True)
def calibrate_rig_task(calibration_id: int, job_id: int) -> None:
    """Calibrate a rig from its stored board recordings (a "calibrate" job)."""
    from cameras.rigs import run_calibration

    try:
        with running(job_id) as job:
            calibration = run_calibration(calibration_id, job_id)
            job.result = {"calibration_id": calibration.pk,
                          "reprojection_px": calibration.reprojection_px}
    except (JobCancelled, ValueError):  # failed calibrations are recorded on the job and row
        return


@shared_task(acks_late=True, ignore_result=True)
def triangulate_session_task(triangulation_id: int, job_id: int) -> None:
    """Triangulate a session's 2D poses into a 3D pose table (a "triangulate" job)."""
    from cameras.sessions import run_triangulation

    try:
        with running(job_id) as job:
            tri = run_triangulation(triangulation_id, job_id)
            job.result = {"triangulation_id": tri.pk, **tri.summary()}
    except (JobCancelled, ValidationError):
        return


@shared_task(acks_late=True, ignore_result=True)
def score_views_3d_task(project_id: int, version_id: int, job_id: int) -> None:
    """Queue the session views that disagree in 3D with the current model ("score_3d" job)."""
    from cameras.selection import run_views_3d_job

    run_views_3d_job(project_id, version_id, job_id)

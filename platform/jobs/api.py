"""REST endpoints for job progress, cancellation and the retry of stuck jobs."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import ALL_ROLES
from accounts.api_permissions import ProjectScopedMixin
from accounts.models import Role
from jobs.dispatch import NotRetryable, retry
from jobs.models import Job
from jobs.progress import request_cancel
from jobs.serializers import JobSerializer
from jobs.stuck import StuckCheck


class JobListApi(ProjectScopedMixin, generics.ListAPIView):
    """Jobs of a project, newest first (?active=1 for queued/running only)."""

    read_roles = ALL_ROLES
    serializer_class = JobSerializer

    def get_queryset(self):
        jobs = Job.objects.filter(project=self.get_project())
        if self.request.query_params.get("active") in {"1", "true"}:
            jobs = jobs.filter(status__in=["queued", "running"])
        return jobs

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "stuck": StuckCheck()}


class JobDetailApi(ProjectScopedMixin, APIView):
    read_roles = ALL_ROLES

    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, project_id: int, job_id: int) -> Response:
        job = get_object_or_404(Job, pk=job_id, project=self.get_project())
        return Response(JobSerializer(job).data)


class JobCancelApi(ProjectScopedMixin, APIView):
    """Cancel a queued job at once, or ask a running one to stop (PI)."""

    write_roles = (Role.PI,)

    @extend_schema(request=None, responses={202: JobSerializer, 409: None})
    def post(self, request: Request, project_id: int, job_id: int) -> Response:
        job = get_object_or_404(Job, pk=job_id, project=self.get_project())
        if not request_cancel(job):
            return Response(
                {"detail": "The job has already finished."}, status=status.HTTP_409_CONFLICT
            )
        job.refresh_from_db()
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobRetryApi(ProjectScopedMixin, APIView):
    """Send a stuck queued job's task to the workers again (PI); 409 if it is not stuck."""

    write_roles = (Role.PI,)

    @extend_schema(request=None, responses={202: JobSerializer, 409: None})
    def post(self, request: Request, project_id: int, job_id: int) -> Response:
        job = get_object_or_404(Job, pk=job_id, project=self.get_project())
        check = StuckCheck()
        try:
            job = retry(job, queued_before=check.now - check.after)
        except NotRetryable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(JobSerializer(job, context={"stuck": check}).data,
                        status=status.HTTP_202_ACCEPTED)

"""Project pages: list, create, overview, settings, members, video upload and extraction."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import ALL_ROLES, PI_ONLY, get_project_for, visible_projects
from accounts.members import invite, set_member
from accounts.models import Invitation, Membership, Role
from projects.forms import (
    ExtractForm,
    InviteForm,
    MemberForm,
    ProjectCreateForm,
    ProjectSettingsForm,
    SkeletonForm,
    UploadForm,
)
from projects.services import create_project
from projects.skeleton import set_skeleton, skeleton_dict
from videos.extraction import Strategy
from videos.ingest import DuplicateVideo, add_uploaded_file
from videos.models import Frame, Video
from videos.services import start_extraction
from videos.uploads import over_limit_message, over_upload_limit


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = visible_projects(request.user).annotate(
        n_videos=Count("videos", distinct=True), n_frames=Count("frames", distinct=True)
    )
    roles = dict(Membership.objects.filter(user=request.user).values_list("project_id", "role"))
    rows = [(p, roles.get(p.pk, "pi" if request.user.is_staff else "")) for p in projects]
    return render(request, "projects/list.html", {"rows": rows})


@login_required
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = create_project(
                request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                skeleton=form.skeleton(),
                max_animals=form.cleaned_data["max_animals"],
                individuals=form.cleaned_data["individuals"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Project {project} created. Upload a video next.")
            return redirect("projects:detail", project_id=project.pk)
    return render(request, "projects/create.html", {"form": form})


@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, ALL_ROLES)
    videos = Video.objects.filter(project=project, deleted_at__isnull=True).annotate(
        n_frames=Count("frames")
    )
    frames = Frame.objects.filter(project=project).order_by("-created_at")[:24]
    return render(
        request,
        "projects/detail.html",
        {
            "project": project,
            "role": project.current_role,
            "is_pi": project.current_role == Role.PI,
            "videos": videos,
            "frames": frames,
            "n_frames": Frame.objects.filter(project=project).count(),
            "skeleton": skeleton_dict(project),
            "extract_form": ExtractForm(),
        },
    )


@login_required
def project_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    """The loop's settings and, as a second form (button "save_skeleton"), edges and pairs."""
    project = get_project_for(request.user, project_id, PI_ONLY)
    editing_skeleton = "save_skeleton" in request.POST
    form = ProjectSettingsForm(
        request.POST if request.method == "POST" and not editing_skeleton else None,
        instance=project,
    )
    skeleton_form = SkeletonForm(project, request.POST if editing_skeleton else None)
    status = 200
    if editing_skeleton and skeleton_form.is_valid():
        try:
            set_skeleton(project, skeleton_form.spec())
        except ValidationError as exc:
            skeleton_form.add_skeleton_error(exc)
        else:
            messages.success(request, "Skeleton saved.")
            return redirect("projects:settings", project_id=project.pk)
    elif form.is_bound and form.is_valid():
        form.save()
        messages.success(request, "Settings saved.")
        return redirect("projects:detail", project_id=project.pk)
    if request.method == "POST":
        status = 400
    return render(
        request,
        "projects/settings.html",
        {"project": project, "form": form, "skeleton_form": skeleton_form},
        status=status,
    )


@login_required
def project_members(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    member_form = MemberForm(request.POST if "add_member" in request.POST else None)
    invite_form = InviteForm(request.POST if "invite" in request.POST else None)
    if request.method == "POST":
        try:
            if "add_member" in request.POST and member_form.is_valid():
                membership = set_member(
                    project,
                    member_form.cleaned_data["username"],
                    Role(member_form.cleaned_data["role"]),
                )
                messages.success(
                    request,
                    f"{membership.user.get_username()} now has the role "
                    f"{membership.get_role_display()} in {project.name}.",
                )
                return redirect("projects:members", project_id=project.pk)
            if "invite" in request.POST and invite_form.is_valid():
                invitation = invite(
                    project,
                    Role(invite_form.cleaned_data["role"]),
                    request.user,
                    email=invite_form.cleaned_data["email"],
                )
                link = request.build_absolute_uri(f"/accounts/invite/{invitation.token}/")
                messages.success(request, f"Invitation link (valid 14 days): {link}")
                return redirect("projects:members", project_id=project.pk)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return render(
        request,
        "projects/members.html",
        {
            "project": project,
            "member_form": member_form,
            "invite_form": invite_form,
            "members": Membership.objects.filter(project=project).select_related("user"),
            "invitations": Invitation.objects.filter(project=project, accepted_at__isnull=True),
        },
    )


@login_required
def video_upload(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    status = 200
    form = UploadForm()
    if request.method == "POST":
        if over_upload_limit(request):
            messages.error(request, over_limit_message())
            return render(
                request, "projects/upload.html", {"project": project, "form": form}, status=413
            )
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                video = add_uploaded_file(project, upload, request.user)
            except DuplicateVideo as exc:
                form.add_error("file", exc.messages[0])
                status = 409
            except ValidationError as exc:
                form.add_error("file", " ".join(exc.messages))
                status = 400
            else:
                messages.success(
                    request,
                    f"Video {video.name} added: {video.frame_count} frames, "
                    f"{video.width}×{video.height} at {video.fps:.1f} fps.",
                )
                return redirect("projects:detail", project_id=project.pk)
        else:
            status = 400
    return render(
        request, "projects/upload.html", {"project": project, "form": form}, status=status
    )


@login_required
@require_POST
def video_extract(request: HttpRequest, project_id: int, video_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id, PI_ONLY)
    video = get_object_or_404(Video, pk=video_id, project=project, deleted_at__isnull=True)
    form = ExtractForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a strategy and a number of frames.")
        return redirect("projects:detail", project_id=project.pk)
    start_extraction(
        video, Strategy(form.cleaned_data["strategy"]), form.cleaned_data["n"], user=request.user
    )
    messages.success(request, "Frame extraction queued; progress shows below.")
    return redirect("projects:detail", project_id=project.pk)

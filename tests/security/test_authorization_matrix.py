"""Authorization matrix generated from the URL resolver.

Every URL pattern must be classified in ROUTES (a new endpoint fails `test_every_route_is_
classified` until someone decides who may call it). For each route × method × role the status
must be in the allowed set: roles allowed get one of OK (or the entry's own set), others get
401 (API) / a redirect to the login page (pages) when anonymous, 404 when they are not in the
project (its existence is not revealed), 403 when their role is not enough. Each request runs
in a savepoint that is rolled back, so every role meets the same state.

A second pass fills the object ids with objects of ANOTHER project (id guessing): nobody,
staff included, may get a 2xx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.models import Invitation, Membership, Role
from annotation.models import QueueEntry
from jobs.models import Job, JobKind
from learning.zoo.models import ZooEntry
from tests.annotation.factories import LabelFactory
from tests.factories import MembershipFactory, ProjectFactory
from videos.models import Frame, Video

ROLES = ["anonymous", "outsider", "other_pi", "annotator", "reviewer", "pi", "staff"]
MEMBER_ROLES = {"annotator", "reviewer", "pi", "staff"}

PUBLIC = frozenset(ROLES)
AUTHENTICATED = frozenset(ROLES) - {"anonymous"}
MEMBERS = frozenset(MEMBER_ROLES)
LABELERS = frozenset({"annotator", "pi", "staff"})
REVIEWERS = frozenset({"reviewer", "pi", "staff"})
PI = frozenset({"pi", "staff"})
STAFF = frozenset({"staff"})
NOBODY: frozenset[str] = frozenset()

OK = frozenset({200, 201, 202, 204, 400, 409})
REDIRECT = frozenset({302})


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]
    ok: frozenset[int] = OK
    # Overrides for roles outside `allowed`, e.g. pages that redirect instead of 404.
    denied: dict[str, frozenset[int]] = field(default_factory=dict)


def page(allowed, ok=frozenset({200, 302, 400}), **denied) -> Rule:
    return Rule(allowed, ok, {k: frozenset(v) for k, v in denied.items()})


def api(allowed, ok=OK, **denied) -> Rule:
    return Rule(allowed, ok, {k: frozenset(v) for k, v in denied.items()})


P = "projects/<int:project_id>/"
A = "api/projects/<int:project_id>/"
NOT_FOUND_OK = OK | {404}  # the object asked for does not exist yet (no analysis, no model…)

# route → {method: Rule}. Methods not listed are not tested (DRF views: must match, see below).
ROUTES: dict[str, dict[str, Rule]] = {
    # --- pages -----------------------------------------------------------------------------
    "": {"get": page(AUTHENTICATED)},
    "projects/new/": {"get": page(AUTHENTICATED), "post": page(AUTHENTICATED)},
    P: {"get": page(MEMBERS)},
    P + "settings/": {"get": page(PI), "post": page(PI)},
    P + "members/": {"get": page(PI), "post": page(PI)},
    P + "videos/upload/": {"get": page(PI), "post": page(PI)},
    P + "videos/<int:video_id>/extract/": {"post": page(PI)},
    P + "label/": {"get": page(LABELERS)},
    P + "review/": {"get": page(REVIEWERS)},
    P + "models/": {"get": page(REVIEWERS)},
    P + "models/train/": {"post": page(PI)},
    P + "models/<int:version_id>/": {"get": page(REVIEWERS)},
    P + "models/<int:version_id>/cancel/": {"post": page(PI)},
    P + "models/<int:version_id>/activate/": {"post": page(PI)},
    P + "models/<int:version_id>/distill/": {"post": page(PI)},
    P + "dashboard/": {"get": page(REVIEWERS)},
    P + "analysis/": {"get": page(PI)},
    P + "analysis/videos/<int:video_id>/": {"post": page(PI)},
    P + "analysis/videos/<int:video_id>/analyses/<int:analysis_id>/swap-tracks/": {
        "post": page(PI, ok=frozenset({200, 302, 400, 404}))},
    P + "analysis/dataset/": {"post": page(PI)},
    "accounts/login/": {"get": page(PUBLIC), "post": page(PUBLIC)},
    "accounts/logout/": {"post": page(PUBLIC)},
    # An invitation link is the secret: whoever holds it sees it (accepting needs a login).
    "accounts/invite/<str:token>/": {"get": page(PUBLIC)},
    "accounts/token/": {"get": page(AUTHENTICATED), "post": page(AUTHENTICATED)},
    "healthz": {"get": page(PUBLIC, ok=frozenset({200}))},
    # --- the model zoo (site-wide entries: any logged-in user sees them; actions check the
    # project concerned and answer with a message + redirect) ---------------------------------
    "zoo/": {"get": page(AUTHENTICATED)},
    "zoo/import/": {"post": page(AUTHENTICATED)},
    "zoo/publish/": {"post": page(AUTHENTICATED, ok=frozenset({302, 404}))},
    "zoo/<int:zoo_id>/": {"get": page(AUTHENTICATED)},
    "zoo/<int:zoo_id>/adopt/": {"post": page(AUTHENTICATED)},
    "zoo/<int:zoo_id>/start-project/": {"post": page(AUTHENTICATED)},
    "zoo/<int:zoo_id>/analyse/": {"post": page(AUTHENTICATED)},
    "zoo/<int:zoo_id>/delete/": {"post": page(AUTHENTICATED)},
    "api/zoo/": {"get": api(AUTHENTICATED), "post": api(AUTHENTICATED, ok=OK | {404})},
    "api/zoo/<int:zoo_id>/": {"get": api(AUTHENTICATED), "delete": api(STAFF)},
    "api/zoo/<int:zoo_id>/bundle/": {"get": api(AUTHENTICATED)},
    "api/zoo/<int:zoo_id>/start-project/": {"post": api(AUTHENTICATED)},
    "api/zoo/<int:zoo_id>/analyse/": {"post": api(AUTHENTICATED)},
    # --- API outside projects ----------------------------------------------------------------
    "api/schema/": {"get": api(PUBLIC, ok=frozenset({200}))},
    "api/docs/": {"get": api(PUBLIC, ok=frozenset({200}))},
    "api/auth/token/": {"post": api(PUBLIC, ok=frozenset({400}))},
    "api/me/token/": {"get": api(AUTHENTICATED), "delete": api(AUTHENTICATED)},
    "api/projects/": {"get": api(AUTHENTICATED), "post": api(AUTHENTICATED)},
    # A multipart upload: a JSON body is refused with 415 before anything is read.
    "api/projects/import/dlc/": {"post": api(AUTHENTICATED, ok=OK | {415})},
    # --- API of one project ------------------------------------------------------------------
    A: {"get": api(MEMBERS), "patch": api(PI), "delete": api(PI)},
    # Restoring a live project: nobody finds a deleted project to restore (404 for all).
    A + "restore/": {"post": api(NOBODY, other_pi={404}, outsider={404}, annotator={404},
                                 reviewer={404}, pi={404}, staff={404})},
    A + "skeleton/": {"get": api(MEMBERS), "put": api(PI)},
    A + "members/": {"get": api(MEMBERS), "post": api(PI)},
    A + "members/<int:member_id>/": {"patch": api(PI), "delete": api(PI)},
    A + "invitations/": {"get": api(PI), "post": api(PI)},
    A + "videos/": {"get": api(MEMBERS), "post": api(PI, ok=OK | {415})},  # multipart
    A + "videos/<int:video_id>/": {"get": api(MEMBERS)},
    A + "videos/<int:video_id>/extract/": {"post": api(PI)},
    A + "frames/": {"get": api(MEMBERS)},
    A + "frames/<int:frame_id>/": {"get": api(MEMBERS)},
    A + "frames/<int:frame_id>/image/": {"get": api(MEMBERS)},
    A + "jobs/": {"get": api(MEMBERS)},
    A + "jobs/<int:job_id>/": {"get": api(MEMBERS)},
    A + "jobs/<int:job_id>/cancel/": {"post": api(PI)},
    A + "jobs/<int:job_id>/retry/": {"post": api(PI)},
    A + "dashboard/": {"get": api(REVIEWERS)},
    A + "queue/": {"get": api(PI), "post": api(PI)},
    A + "queue/next/": {"post": api(LABELERS)},
    A + "queue/clear/": {"post": api(PI)},
    A + "queue/<int:entry_id>/": {"patch": api(PI)},
    A + "queue/<int:entry_id>/skip/": {"post": api(LABELERS)},
    A + "queue/<int:entry_id>/flag/": {"post": api(LABELERS)},
    A + "queue/<int:entry_id>/release/": {"post": api(LABELERS)},
    # GET is "your own label": members without one get 404.
    A + "frames/<int:frame_id>/label/": {"get": api(MEMBERS, ok=NOT_FOUND_OK),
                                         "put": api(LABELERS)},
    A + "labels/": {"get": api(MEMBERS)},
    # Annotators see only their own labels: the fixture label is the annotator's.
    A + "labels/<int:label_id>/history/": {"get": api(MEMBERS)},
    A + "labels/<int:label_id>/review/": {"post": api(REVIEWERS)},
    A + "annotation/progress/": {"get": api(MEMBERS)},
    A + "review/next/": {"post": api(REVIEWERS)},
    A + "agreement/": {"get": api(REVIEWERS)},
    A + "models/": {"get": api(MEMBERS)},
    A + "models/current/": {"get": api(MEMBERS, ok=NOT_FOUND_OK)},
    A + "models/train/": {"post": api(PI)},
    A + "models/adopt/": {"post": api(PI)},
    A + "models/<int:version_id>/": {"get": api(MEMBERS)},
    A + "models/<int:version_id>/cancel/": {"post": api(PI)},
    A + "models/<int:version_id>/activate/": {"post": api(PI)},
    A + "models/<int:version_id>/distill/": {"post": api(PI)},
    A + "models/<int:version_id>/images/<int:n>/": {"get": api(MEMBERS, ok=NOT_FOUND_OK)},
    A + "frames/<int:frame_id>/prediction/": {"get": api(MEMBERS, ok=NOT_FOUND_OK)},
    A + "frames/<int:frame_id>/reprojection/": {"get": api(MEMBERS)},
    A + "exports/dataset/": {"get": api(PI), "post": api(PI)},
    A + "exports/<str:name>/download/": {"get": api(PI, ok=NOT_FOUND_OK)},
    A + "videos/<int:video_id>/analyze/": {"post": api(PI)},
    A + "videos/<int:video_id>/analyses/": {"get": api(REVIEWERS)},
    A + "videos/<int:video_id>/analyses/<int:analysis_id>/download/<str:filename>": {
        "get": api(REVIEWERS, ok=NOT_FOUND_OK)},
    A + "videos/<int:video_id>/analyses/<int:analysis_id>/frames/<int:index>/": {
        "get": api(REVIEWERS, ok=NOT_FOUND_OK)},
    A + "videos/<int:video_id>/analyses/<int:analysis_id>/swap-tracks/": {
        "post": api(PI, ok=NOT_FOUND_OK)},
    A + "models/<int:version_id>/export/": {"post": api(PI, ok=NOT_FOUND_OK)},
    # --- 3D: rigs, calibrations, sessions (cameras app) -----------------------------------
    P + "cameras/": {"get": page(PI)},
    P + "cameras/rigs/new/": {"post": page(PI)},
    P + "cameras/rigs/<int:rig_id>/": {"get": page(PI)},
    P + "cameras/rigs/<int:rig_id>/board/": {"post": page(PI)},
    P + "cameras/rigs/<int:rig_id>/calibrate/": {"post": page(PI)},
    P + "cameras/rigs/<int:rig_id>/import/": {"post": page(PI)},
    P + "cameras/rigs/<int:rig_id>/sessions/new/": {"post": page(PI)},
    P + "cameras/sessions/<int:session_id>/": {"get": page(PI)},
    P + "cameras/sessions/<int:session_id>/views/<str:camera>/poses/": {"post": page(PI)},
    P + "cameras/sessions/<int:session_id>/analyze/": {"post": page(PI)},
    P + "cameras/sessions/<int:session_id>/triangulate/": {"post": page(PI)},
    A + "rigs/": {"get": api(REVIEWERS), "post": api(PI)},
    A + "rigs/<int:rig_id>/": {"get": api(REVIEWERS), "put": api(PI)},
    A + "rigs/<int:rig_id>/calibrations/": {"get": api(REVIEWERS),
                                            "post": api(PI, ok=OK | {415})},  # multipart
    A + "rigs/<int:rig_id>/calibrations/import/": {"post": api(PI, ok=OK | {415})},
    A + "rigs/<int:rig_id>/calibrations/<int:calibration_id>/": {"get": api(REVIEWERS)},
    A + "rigs/<int:rig_id>/calibrations/<int:calibration_id>/calibration.toml": {
        "get": api(REVIEWERS)},
    A + "rigs/<int:rig_id>/calibrations/<int:calibration_id>/images/<str:camera>.png": {
        "get": api(REVIEWERS, ok=NOT_FOUND_OK)},
    A + "sessions/": {"get": api(REVIEWERS), "post": api(PI)},
    A + "sessions/<int:session_id>/": {"get": api(REVIEWERS)},
    A + "sessions/<int:session_id>/views/<str:camera>/poses/": {
        "post": api(PI, ok=OK | {415})},
    A + "sessions/<int:session_id>/analyze/": {"post": api(PI)},
    A + "sessions/<int:session_id>/triangulate/": {"post": api(PI)},
    A + "sessions/<int:session_id>/triangulations/<int:triangulation_id>/": {
        "get": api(REVIEWERS)},
    A + "sessions/<int:session_id>/triangulations/<int:triangulation_id>/points/": {
        "get": api(REVIEWERS, ok=NOT_FOUND_OK)},
    A + "sessions/<int:session_id>/triangulations/<int:triangulation_id>/files/<str:filename>": {
        "get": api(REVIEWERS, ok=NOT_FOUND_OK)},
}
# The admin site: one rule for all its patterns; only staff get in (others go to its login).
ADMIN_PREFIX = "admin/"
ADMIN_RULE = page(STAFF, ok=frozenset({200}), anonymous={302}, outsider={302},
                  other_pi={302}, annotator={302}, reviewer={302}, pi={302})


def all_routes() -> list[tuple[str, URLPattern]]:
    """(route with converters, pattern) for every URL pattern, recursively."""

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern), p

    return list(walk(get_resolver().url_patterns))


def view_methods(pattern: URLPattern) -> set[str] | None:
    """Methods a class-based view implements (None for function views)."""
    cls = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
    if cls is None:
        return None
    return {m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)}


def test_every_route_is_classified():
    """A new URL pattern fails here until it is added to ROUTES (or lives under admin/)."""
    missing, method_gaps = [], []
    seen: set[str] = set()
    for route, pattern in all_routes():
        if route.startswith(ADMIN_PREFIX):
            continue
        if route not in ROUTES:
            missing.append(route)
            continue
        methods = view_methods(pattern)
        if route in seen:  # a shadowed duplicate (an earlier pattern serves this path)
            continue
        seen.add(route)
        if methods is not None and pattern.callback.__module__.split(".")[0] not in (
                "django",):
            declared = set(ROUTES[route])
            if methods - declared:
                method_gaps.append(f"{route}: {sorted(methods - declared)} not classified")
    assert not missing, "unclassified routes:\n" + "\n".join(missing)
    assert not method_gaps, "\n".join(method_gaps)
    stale = set(ROUTES) - {r for r, _ in all_routes()}
    assert not stale, f"ROUTES lists patterns that no longer exist: {sorted(stale)}"


def test_media_is_not_served_from_a_public_url(client, settings):
    """No URL pattern routes MEDIA_URL; a stored file's name under it is a 404."""
    from django.urls import Resolver404, resolve

    media = settings.MEDIA_URL
    assert not any(r.startswith(media.lstrip("/")) for r, _ in all_routes())
    with pytest.raises(Resolver404):
        resolve(f"{media}projects/1/frames/f.png")
    for prefix in ("/media/", media):
        assert client.get(f"{prefix}projects/1/frames/f.png").status_code == 404


# --- objects ---------------------------------------------------------------------------------

def make_objects(project, annotator) -> dict[str, object]:
    from tests.learning.helpers import make_version

    video = Video.objects.create(
        project=project, name="v.mp4", sha256=f"{project.pk:064d}", size_bytes=1, fps=30,
        frame_count=10, width=8, height=8, codec="mp4v", source_path="/nonexistent.mp4")
    frame = Frame(project=project, video=video, frame_index=0, width=8, height=8,
                  origin="extracted")
    frame.image.save("f.png", ContentFile(b"\x89PNG fake"), save=True)
    job = Job.objects.create(project=project, kind=JobKind.EXTRACT_FRAMES, status="running")
    entry = QueueEntry.objects.create(project=project, frame=frame, reason="manual")
    label = LabelFactory(frame=frame, annotator=annotator)
    version = make_version(project, checkpoint=False)
    invitation = Invitation.objects.create(project=project, role=Role.ANNOTATOR)
    member = Membership.objects.get(project=project, user=annotator)
    rig_ids = make_rig_objects(project, video)
    zoo = ZooEntry.objects.create(name=f"zoo {project.pk}", bodyparts=["snout"],
                                  model_config={"backbone": "resnet18"})
    zoo.checkpoint.save("model.pt", ContentFile(b"not a checkpoint"), save=True)
    return {**rig_ids, "zoo_id": zoo.pk, "project_id": project.pk, "video_id": video.pk,
            "frame_id": frame.pk,
            "job_id": job.pk, "entry_id": entry.pk, "label_id": label.pk,
            "version_id": version.pk, "member_id": member.pk, "analysis_id": job.pk, "n": 0,
            "index": 0, "name": "dataset.zip", "filename": "poses.csv",
            "token": invitation.token}


def make_rig_objects(project, video) -> dict[str, object]:
    """A calibrated two-camera rig, a session of it and a triangulation (not run)."""
    from cameras.models import Calibration, Rig, Session, SessionView, Triangulation

    rig = Rig.objects.create(project=project, name="rig", cameras=["cam0", "cam1"])
    cameras = [{"name": f"cam{i}", "size": [8, 8], "matrix": [[8, 0, 4], [0, 8, 4], [0, 0, 1]],
                "distortions": [0, 0, 0, 0, 0], "rotation": [0, 0, 0],
                "translation": [100.0 * i, 0, 0]} for i in range(2)]
    calibration = Calibration.objects.create(rig=rig, source="imported", status="ready",
                                             cameras=cameras)
    session = Session.objects.create(project=project, rig=rig, name="s", frame_count=10)
    SessionView.objects.create(session=session, camera="cam0", video=video)
    triangulation = Triangulation.objects.create(session=session, calibration=calibration)
    return {"rig_id": rig.pk, "calibration_id": calibration.pk, "session_id": session.pk,
            "triangulation_id": triangulation.pk, "camera": "cam0"}


def fill(route: str, ids: dict[str, object]) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), route)


def expected(rule: Rule, role: str, route: str) -> frozenset[int]:
    if role in rule.allowed:
        return rule.ok
    if role in rule.denied:
        return rule.denied[role]
    is_api = route.startswith("api/")
    if role == "anonymous":
        return frozenset({401}) if is_api else REDIRECT
    if role in ("outsider", "other_pi") and "<int:project_id>" in route:
        return frozenset({404})
    return frozenset({403})


@pytest.fixture
def world(project, users, monkeypatch):
    """The fixture project's objects, another project's objects, a client per role."""
    monkeypatch.setattr("videos.api.start_extraction", lambda *a, **k: Job.objects.create(
        project=project, kind="extract_frames"))
    monkeypatch.setattr("projects.views.start_extraction", lambda *a, **k: Job.objects.create(
        project=project, kind="extract_frames"), raising=False)
    cache.clear()  # the token endpoint's throttle counts live in the cache
    other = ProjectFactory()
    other_annotator = MembershipFactory(project=other, role=Role.ANNOTATOR).user
    clients = {}
    for role in ROLES:
        client = APIClient()
        if role != "anonymous":
            client.force_login(users[role])
        clients[role] = client
    yield {"ids": make_objects(project, users["annotator"]),
           "foreign": make_objects(other, other_annotator), "clients": clients}
    cache.clear()


def request(client, method: str, url: str):
    with transaction.atomic():
        response = getattr(client, method)(url, {}, format="json") if method != "get" else (
            client.get(url))
        transaction.set_rollback(True)
    return response


def cases():
    for route, methods in ROUTES.items():
        for method, rule in methods.items():
            yield pytest.param(route, method, rule, id=f"{method.upper()} /{route}")


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method", "rule"), list(cases()))
def test_route_by_role(route, method, rule, world):
    url = fill(route, world["ids"])
    failures = []
    for role in ROLES:
        status = request(world["clients"][role], method, url).status_code
        allowed = expected(rule, role, route)
        if status not in allowed:
            failures.append(f"{role}: {status} not in {sorted(allowed)}")
    assert not failures, f"{method.upper()} {url}\n" + "\n".join(failures)


def guessable_cases():
    for route, methods in ROUTES.items():
        ids = set(re.findall(r"<(?:\w+:)?(\w+)>", route)) - {"project_id"}
        if "<int:project_id>" in route and ids & {"video_id", "frame_id", "job_id", "entry_id",
                                                  "label_id", "version_id", "member_id",
                                                  "rig_id", "session_id", "calibration_id",
                                                  "triangulation_id"}:
            for method in methods:
                yield pytest.param(route, method, id=f"{method.upper()} /{route}")


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), list(guessable_cases()))
def test_objects_of_another_project_are_unreachable(route, method, world):
    """The fixture project's id with another project's object ids: never a 2xx, for anyone."""
    ids = {**world["foreign"], "project_id": world["ids"]["project_id"]}
    url = fill(route, ids)
    failures = []
    for role in ROLES:
        status = request(world["clients"][role], method, url).status_code
        if 200 <= status < 300:
            failures.append(f"{role}: {status}")
    assert not failures, f"{method.upper()} {url}\n" + "\n".join(failures)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_admin_site_is_for_staff_only(role, world):
    """One rule covers every admin/ pattern: the index and a model list stand for them."""
    client = world["clients"][role]
    for url in ("/admin/", "/admin/projects/project/", "/admin/auth/user/"):
        status = client.get(url).status_code
        allowed = expected(ADMIN_RULE, role, "admin/")
        if role == "staff":
            allowed = frozenset({200, 403})  # staff without model permissions: 403 per model
            if url == "/admin/":
                allowed = frozenset({200})
        assert status in allowed, (url, role, status)

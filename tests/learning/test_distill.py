"""Fast models: starting a distillation, the run on a synthetic project, which model analyses
videos, and the API, page and command around them."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from jobs.models import Job, JobKind, JobStatus
from learning.analysis.videos import resolve_version
from learning.errors import Conflict
from learning.models import CurrentModel, ModelVersion, VersionKind, VersionStatus
from learning.training.distill import (
    NO_EARLY_STOP,
    analysis_default,
    frame_plan,
    start_distillation,
    tolerance_verdict,
)
from learning.training.registry import clear_cache, current_version
from learning.training.runs import start_training
from tests.videofactory import make_video
from videos.ingest import add_video

pytestmark = pytest.mark.django_db

FAST = {"model": {"head_channels": 16},
        "train": {"augment": {"rotation_deg": 10.0, "scale_range": [0.9, 1.1], "blur_p": 0.0}}}


def _version(project, iteration, *, status=VersionStatus.READY, teacher=None, **metrics):
    return ModelVersion.objects.create(
        project=project, iteration=iteration, status=status, checkpoint="model.pt",
        kind=VersionKind.STUDENT if teacher else VersionKind.STANDARD, teacher=teacher,
        metrics=metrics)


@pytest.fixture
def with_video(project, tmp_path):
    clip = make_video(tmp_path, n_frames=60)
    return add_video(project, clip.path, name="clip.mp4", register=True)


@pytest.fixture
def teacher(project):
    version = _version(project, 1, test_rmse_px=2.0)
    CurrentModel.objects.create(project=project, version=version)
    return version


# --- which model analyses videos ------------------------------------------------------------

def test_tolerance_verdict():
    assert tolerance_verdict(2.3, 2.0, 0.3)
    assert not tolerance_verdict(2.31, 2.0, 0.3)
    assert not tolerance_verdict(None, 2.0, 0.3) and not tolerance_verdict(2.0, None, 0.3)


def test_a_student_within_tolerance_analyses_videos_by_default(project, teacher):
    assert analysis_default(project) == teacher
    student = _version(project, 2, teacher=teacher, test_rmse_px=2.25, teacher_test_rmse_px=2.0)
    assert analysis_default(project) == student
    assert resolve_version(project, None) == student
    assert resolve_version(project, teacher.pk) == teacher  # still selectable by hand
    assert current_version(project) == teacher  # the student never becomes current by itself


def test_a_student_beyond_tolerance_does_not(project, teacher):
    _version(project, 2, teacher=teacher, test_rmse_px=2.5, teacher_test_rmse_px=2.0)
    assert analysis_default(project) == teacher
    project.student_tolerance_px = 1.0
    project.save()
    assert analysis_default(project).iteration == 2


def test_an_unfinished_student_or_one_of_an_older_teacher_is_not_the_default(project, teacher):
    _version(project, 2, teacher=teacher, status=VersionStatus.FAILED, test_rmse_px=1.0,
             teacher_test_rmse_px=2.0)
    old = _version(project, 3, test_rmse_px=3.0)
    _version(project, 4, teacher=old, test_rmse_px=3.0, teacher_test_rmse_px=3.0)
    assert analysis_default(project) == teacher


def test_frames_are_spread_over_the_videos_by_length(project, tmp_path):
    short = add_video(project, make_video(tmp_path, "a.mp4", n_frames=30).path, name="a.mp4")
    long = add_video(project, make_video(tmp_path, "b.mp4", n_frames=90, seed=1).path,
                     name="b.mp4")
    plan = dict((v.pk, idx) for v, idx in frame_plan([short, long], 20))
    assert len(plan[short.pk]) == 5 and len(plan[long.pk]) == 15
    assert plan[long.pk] == sorted(set(plan[long.pk])) and max(plan[long.pk]) < 90


# --- starting ---------------------------------------------------------------------------------

def test_start_queues_a_student_version_and_a_distill_job(project, teacher, with_video, users,
                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        version = start_distillation(teacher, user=users["pi"], minutes=0.5,
                                     options={"frames": 40, "head_channels": 16})
    assert (version.kind, version.teacher, version.status) == ("student", teacher, "queued")
    assert version.iteration == 2 and version.job.kind == JobKind.DISTILL
    assert version.job.params["distill"]["frames"] == 40
    assert version.job.params["version_id"] == version.pk
    assert len(callbacks) == 1  # sent after commit


@pytest.mark.parametrize("options", [{"frames": 0}, {"backbone": "vgg"}, {"colour": "red"}])
def test_bad_options_change_nothing(project, teacher, with_video, options):
    with pytest.raises(ValidationError):
        start_distillation(teacher, options=options)
    assert ModelVersion.objects.filter(project=project).count() == 1
    assert not Job.objects.filter(project=project).exists()


def test_refusals(project, teacher, with_video):
    student = _version(project, 2, teacher=teacher)
    with pytest.raises(ValidationError):
        start_distillation(student)  # a student does not teach
    failed = _version(project, 3, status=VersionStatus.FAILED)
    with pytest.raises(Conflict):
        start_distillation(failed)
    with pytest.raises(ValidationError):
        start_distillation(teacher, minutes=0)
    start_distillation(teacher)
    with pytest.raises(Conflict):  # one queued or training version per project
        start_distillation(teacher)
    assert ModelVersion.objects.filter(project=project).count() == 4


def test_a_project_without_videos_cannot_distil(project, teacher):
    with pytest.raises(ValidationError, match="videos"):
        start_distillation(teacher)


# --- API, page, command, settings -------------------------------------------------------------

def _url(project, version):
    return f"/api/projects/{project.pk}/models/{version.pk}/distill/"


def test_api_pi_makes_a_fast_model(project, teacher, with_video, as_user):
    response = as_user("pi").post(_url(project, teacher), {"minutes": 1, "frames": 50},
                                  format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["version"]["kind"] == "student" and body["version"]["teacher"] == teacher.pk
    assert body["job"]["kind"] == "distill"
    assert Job.objects.get(pk=body["job"]["id"]).params["distill"]["frames"] == 50


@pytest.mark.parametrize("role,code", [("annotator", 403), ("reviewer", 403), ("outsider", 404),
                                       ("other_pi", 404), (None, 401)])
def test_api_only_the_pi_may(project, teacher, with_video, as_user, role, code):
    assert as_user(role).post(_url(project, teacher), {}, format="json").status_code == code
    assert not ModelVersion.objects.filter(kind=VersionKind.STUDENT).exists()


@pytest.mark.parametrize("body", [{"minutes": -1}, {"frames": 0}, {"backbone": "vgg"},
                                  {"weighting": "soft"}, {"head_channels": "wide"},
                                  {"human_share": 1.0}, {"human_repeat": 0}])
def test_api_bad_input_is_400_and_changes_nothing(project, teacher, with_video, as_user, body):
    assert as_user("pi").post(_url(project, teacher), body, format="json").status_code == 400
    assert ModelVersion.objects.filter(project=project).count() == 1


def test_api_unknown_or_unready_teacher(project, teacher, with_video, as_user):
    other = _version(project, 2, status=VersionStatus.FAILED)
    assert as_user("pi").post(_url(project, other), {}, format="json").status_code == 409
    missing = f"/api/projects/{project.pk}/models/999999/distill/"
    assert as_user("pi").post(missing, {}, format="json").status_code == 404


def test_api_without_videos_is_400(project, teacher, as_user):
    response = as_user("pi").post(_url(project, teacher), {}, format="json")
    assert response.status_code == 400 and "videos" in str(response.json())


def test_page_button_pi_only(client, project, teacher, with_video, users):
    page = reverse("learning:models", args=[project.pk])
    client.force_login(users["reviewer"])
    assert b"Make a fast model" not in client.get(page).content
    action = reverse("learning:distill", args=[project.pk, teacher.pk])
    assert client.post(action).status_code == 403
    client.force_login(users["annotator"])
    assert client.post(action).status_code == 403
    client.force_login(users["pi"])
    assert b"Make a fast model" in client.get(page).content
    response = client.post(action, {"minutes": "0.5"})
    assert response.status_code == 302
    student = ModelVersion.objects.get(kind=VersionKind.STUDENT)
    assert student.teacher == teacher and student.budget_minutes == 0.5
    assert b"fast</strong>, of #1" in client.get(page).content
    assert b"Fast model beside its teacher" in client.get(
        reverse("learning:version", args=[project.pk, student.pk])).content


def test_page_bad_minutes_is_a_message(client, project, teacher, with_video, users):
    client.force_login(users["pi"])
    action = reverse("learning:distill", args=[project.pk, teacher.pk])
    response = client.post(action, {"minutes": "soon"}, follow=True)
    assert b"Minutes must be a number" in response.content
    assert not ModelVersion.objects.filter(kind=VersionKind.STUDENT).exists()


def test_tolerance_is_a_project_setting(project, users, as_user):
    url = f"/api/projects/{project.pk}/"
    assert as_user("pi").patch(url, {"student_tolerance_px": -1}, format="json").status_code == 400
    response = as_user("pi").patch(url, {"student_tolerance_px": 0.5}, format="json")
    assert response.status_code == 200 and response.json()["student_tolerance_px"] == 0.5
    assert as_user("annotator").patch(url, {"student_tolerance_px": 2},
                                      format="json").status_code == 403
    project.refresh_from_db()
    assert project.student_tolerance_px == 0.5


def test_command_queues_or_explains(project, teacher, with_video,
                                    django_capture_on_commit_callbacks):
    with pytest.raises(CommandError, match="No project"):
        call_command("distill", "--project", "nope")
    with pytest.raises(CommandError, match="frames"):
        call_command("distill", "--project", project.name, "--frames", "0", "--queue")
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("distill", "--project", project.name, "--frames", "30", "--queue")
    assert len(callbacks) == 1
    student = ModelVersion.objects.get(kind=VersionKind.STUDENT)
    assert student.job.params["distill"]["frames"] == 30 and student.teacher == teacher


# --- a real run -------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_fast_model_is_a_ready_student_evaluated_beside_its_teacher(
        project, labeled_frames, with_video, django_capture_on_commit_callbacks):
    clear_cache()
    labeled_frames(project, 12)
    with django_capture_on_commit_callbacks(execute=True):
        teacher = start_training(project, minutes=0.1, overrides=FAST)
    teacher.refresh_from_db()
    assert teacher.status == VersionStatus.READY, teacher.message
    with django_capture_on_commit_callbacks(execute=True):
        student = start_distillation(teacher, minutes=0.1,
                                     options={"frames": 16, "head_channels": 16})
    student.refresh_from_db()
    assert student.status == VersionStatus.READY, student.message
    assert student.kind == "student" and student.checkpoint
    assert student.model_config["backbone"] == "mobilenet_v3_small"
    metrics = student.metrics
    assert metrics["n_test"] >= 1 and metrics["test_rmse_px"] is not None
    assert metrics["teacher_test_rmse_px"] is not None
    assert metrics["distill"]["pseudo_frames"] == 16
    # the human labels make 60 % of each epoch (human_share): 1.5 * kept pseudo / n human
    kept = metrics["distill"]["pseudo_frames_kept"]
    assert 0 <= kept <= 16
    assert metrics["distill"]["human_repeats"] == max(1, round(1.5 * kept / metrics["n_train"]))
    assert 0 < metrics["gflop_per_frame"] < metrics["teacher_gflop_per_frame"]
    assert "Fast model of model 1" in student.message
    assert current_version(project) == teacher
    job = student.job
    job.refresh_from_db()
    assert (job.kind, job.status, job.progress) == (JobKind.DISTILL, JobStatus.SUCCEEDED, 1.0)
    assert job.result["teacher_id"] == teacher.pk
    # the student trains for its whole budget and keeps its last, annealed epoch
    assert student.train_config["patience"] == NO_EARLY_STOP
    assert student.train_config["select_by"] == "last"
    clear_cache()

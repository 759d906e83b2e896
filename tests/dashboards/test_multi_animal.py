"""A multi-animal project's dashboard: OKS mAP, animals missed or extra, identity switches."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from annotation.labels import import_label
from dashboards.queries import project_dashboard
from jobs.models import Job, JobKind, JobStatus
from learning.analysis.identity import identity_report, labeled_tracks
from learning.analysis.multi import TRACKS_FILE, Tracks
from learning.analysis.videos import MANIFEST
from learning.models import TrackSwap
from projects.models import Project
from tests.dashboards.factories import version
from tests.factories import MembershipFactory, ProjectFactory
from videos.models import Frame, FrameOrigin, Video

pytestmark = pytest.mark.django_db

N_FRAMES = 10
LABELED = (0, 2, 4, 6, 8)
SWAP_AT = 5


def alice(f: int) -> np.ndarray:
    """(4, 2): an animal at the top left, drifting right."""
    return np.array([(10, 10), (14, 8), (14, 12), (30, 10)], float) + (f, 0)


def bob(f: int) -> np.ndarray:
    """(4, 2): an animal at the bottom right, drifting left."""
    return np.array([(70, 40), (66, 38), (66, 42), (50, 40)], float) - (f, 0)


@pytest.fixture
def pair() -> Project:
    return ProjectFactory(name="Pair", max_animals=2, individuals=["alice", "bob"])


def make_video(project: Project) -> Video:
    video = Video.objects.create(project=project, name="pair.mp4", sha256="7" * 64,
                                 size_bytes=1, fps=30, frame_count=N_FRAMES, width=80,
                                 height=60)
    Frame.objects.bulk_create(
        Frame(project=project, video=video, frame_index=i, width=80, height=60,
              image=f"test/pair{i}.png", origin=FrameOrigin.EXTRACTED) for i in range(N_FRAMES))
    return video


def animal(project: Project, track: str, xy: np.ndarray) -> dict:
    parts = project.bodyparts.order_by("order", "id")
    return {"track": track, "points": [
        {"bodypart": bp.pk, "x": float(x), "y": float(y), "state": "visible"}
        for bp, (x, y) in zip(parts, xy, strict=True)]}


def label(project: Project, video: Video, f: int, tracks: tuple[str, str] = ("alice", "bob")
          ) -> None:
    frame = Frame.objects.get(video=video, frame_index=f)
    import_label(project, frame, [animal(project, tracks[0], alice(f)),
                                  animal(project, tracks[1], bob(f))])


def swapped_tracks() -> Tracks:
    """Two tracks that follow alice and bob, then trade animals from frame SWAP_AT on."""
    poses = np.full((N_FRAMES, 2, 4, 3), np.nan)
    for f in range(N_FRAMES):
        first, second = (alice(f), bob(f)) if f < SWAP_AT else (bob(f), alice(f))
        poses[f, 0, :, :2], poses[f, 1, :, :2] = first, second
        poses[f, :, :, 2] = 0.9
    return Tracks(poses, np.full((N_FRAMES, 2), 0.8), ["track_0", "track_1"])


def publish(project: Project, video: Video, tracks: Tracks, job: Job | None = None) -> Job:
    """A published multi-animal analysis of the video (its manifest and tracks file)."""
    if job is None:
        job = Job.objects.create(project=project, kind=JobKind.ANALYZE,
                                 status=JobStatus.SUCCEEDED, params={"video_id": video.pk},
                                 finished_at=timezone.now())
    folder = f"projects/{project.pk}/analyses/{video.pk}-pair-v1"
    manifest = {
        "job_id": job.pk, "video_id": video.pk, "version_id": 0, "iteration": 3,
        "scorer": "PoseLoop_Pair_v3", "bodyparts": project.bodypart_names(),
        "frames": N_FRAMES, "folder": folder, "files": [TRACKS_FILE], "pose_table": TRACKS_FILE,
        "params": {}, "seconds": 1.0, "created_at": timezone.now().isoformat(),
        "individuals": tracks.names, "track_summary": {}, "track_edits": 0,
    }
    for name, data in ((TRACKS_FILE, tracks.to_bytes()), (MANIFEST, json.dumps(manifest).encode())):
        default_storage.delete(f"{folder}/{name}")
        default_storage.save(f"{folder}/{name}", ContentFile(data))
    job.result = {"folder": folder}
    job.save()
    return job


def labeled_pair(project: Project) -> Video:
    video = make_video(project)
    for f in LABELED:
        label(project, video, f)
    return video


# --- versions ------------------------------------------------------------------------------


def test_versions_give_map_recall_and_missed_and_extra_animals(pair):
    version(pair, n_labels=20, test_rmse=6.0, test_map_oks=0.41, test_recall=0.7,
            test_median_px=4.0, test_missed_animals=5, test_extra_animals=2, n_test=8)
    version(pair, n_labels=40, test_rmse=3.0, test_map_oks=0.83, test_recall=0.95,
            test_missed_animals=1, test_extra_animals=0, current=True,
            per_bodypart_test_rmse_px={"snout": 2.5, "tailbase": 4.0})
    models = project_dashboard(pair)["models"]
    curve = models["multi_animal"]["curve"]
    assert [(p["n_labels"], p["map_oks"], p["recall"]) for p in curve] == [
        (20, 0.41, 0.7), (40, 0.83, 0.95)]
    assert [(p["missed_animals"], p["extra_animals"]) for p in curve] == [(5, 2), (1, 0)]
    assert curve[0]["median_px"] == 4.0 and curve[1]["median_px"] is None
    assert [p["is_current"] for p in curve] == [False, True]
    # The per-node error after matching is drawn by the body-part panel every project has.
    errors = {b["name"]: b["test_rmse_px"] for b in models["bodyparts"]}
    assert errors == {"snout": 2.5, "leftear": None, "rightear": None, "tailbase": 4.0}
    assert models["multi_animal"]["individuals"] == ["alice", "bob"]


def test_single_animal_dashboard_has_no_multi_animal_part(project):
    version(project, n_labels=10, test_rmse=5.0, current=True, test_map_oks=0.5)
    assert "multi_animal" not in project_dashboard(project)["models"]


# --- identity switches ---------------------------------------------------------------------


def test_labeled_tracks_are_in_time_order_by_name(pair):
    video = make_video(pair)
    label(pair, video, 6)
    label(pair, video, 2, tracks=("bob", "alice"))  # listed the other way round
    found = labeled_tracks(pair, video)
    assert found["frame_indices"] == [2, 6] and found["names"] == ["alice", "bob"]
    np.testing.assert_array_equal(found["keypoints"][0, 0], bob(2))
    np.testing.assert_array_equal(found["keypoints"][1, 1], bob(6))


def test_a_swap_counts_once_per_labeled_animal(pair):
    video = labeled_pair(pair)
    publish(pair, video, swapped_tracks())
    report = identity_report(pair)
    assert report["available"] and report["note"] == ""
    assert (report["switches"], report["labeled_frames"]) == (2, 5)
    assert report["per_1000_frames"] == pytest.approx(400.0)
    row = report["videos"][0]
    assert row["tracks"] == ["track_0", "track_1"] and row["labeled_tracks"] == ["alice", "bob"]
    assert (row["video"], row["iteration"], row["switches"]) == ("pair.mp4", 3, 2)


def test_consistent_tracks_have_no_switch(pair):
    video = labeled_pair(pair)
    tracks = swapped_tracks()
    tracks.poses[SWAP_AT:] = tracks.poses[SWAP_AT:, ::-1]
    publish(pair, video, tracks)
    assert identity_report(pair)["switches"] == 0


def test_a_pi_fix_removes_the_switches(pair):
    video = labeled_pair(pair)
    job = publish(pair, video, swapped_tracks())
    assert identity_report(pair)["switches"] == 2
    TrackSwap.objects.create(project=pair, video=video, analysis_id=job.pk, frame=SWAP_AT,
                             track_a="track_0", track_b="track_1")
    publish(pair, video, swapped_tracks(), job=job)  # the fix writes the analysis again
    assert identity_report(pair)["switches"] == 0


def test_figures_are_cached_until_the_labels_change(pair):
    video = labeled_pair(pair)
    job = publish(pair, video, swapped_tracks())
    assert identity_report(pair)["switches"] == 2
    tracks_file = f"{job.result['folder']}/{TRACKS_FILE}"
    default_storage.delete(tracks_file)
    assert identity_report(pair)["switches"] == 2  # the tracks were not read again
    default_storage.save(tracks_file, ContentFile(swapped_tracks().to_bytes()))
    # Corrections: after the swap the animals were named the other way round, as the
    # tracks have them; the figures follow the labels without a new analysis.
    for f in (6, 8):
        label(pair, video, f, tracks=("bob", "alice"))
    assert identity_report(pair)["switches"] == 0


def test_only_the_latest_multi_animal_analysis_counts(pair):
    video = labeled_pair(pair)
    publish(pair, video, swapped_tracks())
    tracks = swapped_tracks()
    tracks.poses[SWAP_AT:] = tracks.poses[SWAP_AT:, ::-1]
    newer = Job.objects.create(project=pair, kind=JobKind.ANALYZE, status=JobStatus.SUCCEEDED,
                               params={"video_id": video.pk}, finished_at=timezone.now())
    folder = f"projects/{pair.pk}/analyses/{video.pk}-pair-v2"
    default_storage.save(f"{folder}/{TRACKS_FILE}", ContentFile(tracks.to_bytes()))
    manifest = {"job_id": newer.pk, "video_id": video.pk, "iteration": 4, "folder": folder,
                "files": [TRACKS_FILE], "created_at": timezone.now().isoformat(),
                "individuals": tracks.names}
    default_storage.save(f"{folder}/{MANIFEST}", ContentFile(json.dumps(manifest).encode()))
    newer.result = {"folder": folder}
    newer.save()
    report = identity_report(pair)
    assert [v["analysis_id"] for v in report["videos"]] == [newer.pk]
    assert report["switches"] == 0


def test_no_labeled_tracks_says_so(pair):
    video = make_video(pair)
    for f in LABELED:
        label(pair, video, f, tracks=("", ""))
    publish(pair, video, swapped_tracks())
    report = identity_report(pair)
    assert not report["available"] and report["switches"] is None
    assert report["note"].startswith("No labeled tracks")
    assert report["videos"][0]["note"] == "no labeled tracks"


def test_no_analysis_says_so(pair):
    labeled_pair(pair)
    report = identity_report(pair)
    assert report["videos"] == [] and "No multi-animal analysis yet" in report["note"]


# --- API and page --------------------------------------------------------------------------


def test_api_and_schema_carry_the_multi_animal_figures(pair, api):
    video = labeled_pair(pair)
    publish(pair, video, swapped_tracks())
    version(pair, n_labels=20, test_rmse=3.0, test_map_oks=0.8, current=True)
    api.force_authenticate(MembershipFactory(project=pair, role="pi").user)
    body = api.get(f"/api/projects/{pair.pk}/dashboard/").json()
    multi = body["models"]["multi_animal"]
    assert multi["curve"][0]["map_oks"] == 0.8
    assert multi["identity"]["switches"] == 2 and multi["identity"]["labeled_frames"] == 5
    schema = api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/projects/{project_id}/dashboard/"]["get"]
    models = operation["responses"]["200"]["content"]["application/json"]["schema"][
        "properties"]["models"]
    identity = models["properties"]["multi_animal"]["properties"]["identity"]
    assert "per_1000_frames" in identity["properties"]
    assert "multi_animal" not in models["required"]  # single-animal projects leave it out


def test_page_shows_map_animals_and_identity_only_for_several_animals(pair, project):
    labeled_pair(pair)
    pi = MembershipFactory(project=pair, role="pi").user
    client = Client()
    client.force_login(pi)
    html = client.get(f"/projects/{pair.pk}/dashboard/").content.decode()
    assert 'id="plot-curve-map"' in html and 'id="plot-animals"' in html
    assert 'id="plot-curve-pck"' not in html
    assert "Identity switches" in html and "No multi-animal analysis yet" in html
    assert "style=" not in html
    single = MembershipFactory(project=project, role="pi").user
    client.force_login(single)
    html = client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert 'id="plot-curve-pck"' in html and "plot-curve-map" not in html
    assert "Identity switches" not in html

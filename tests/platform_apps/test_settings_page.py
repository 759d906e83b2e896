"""The settings page: one number per acquisition score, and a skeleton editor."""

from __future__ import annotations

import pytest

from learning.engine.uncertainty import DEFAULT_WEIGHTS
from projects.skeleton import skeleton_dict

pytestmark = pytest.mark.django_db


def _url(project) -> str:
    return f"/projects/{project.pk}/settings/"


def _settings_post(project, **weights) -> dict:
    """The form as the page shows it (current values), with some weights changed."""
    data = {"name": project.name, "description": project.description,
            "retrain_after_labels": project.retrain_after_labels,
            "retrain_every_hours": project.retrain_every_hours,
            "queue_size": project.queue_size, "selection_strategy": project.selection_strategy,
            "selection_batch_size": project.selection_batch_size,
            "double_label_fraction": project.double_label_fraction,
            "lease_minutes": project.lease_minutes, "backbone": project.backbone,
            "input_scale": project.input_scale or "", "require_improvement": "on",
            "student_tolerance_px": project.student_tolerance_px,
            "max_animals": project.max_animals, "individuals": "\n".join(project.individuals)}
    for name, default in DEFAULT_WEIGHTS.items():
        data[f"weight_{name}"] = weights.get(name, default)
    return data


@pytest.fixture
def pi_client(users, client):
    client.force_login(users["pi"])
    return client


def test_page_has_a_number_field_per_score_and_no_json_box(project, pi_client):
    html = pi_client.get(_url(project)).content.decode()
    for name, default in DEFAULT_WEIGHTS.items():
        assert f'<input type="number" name="weight_{name}" value="{default}"' in html, name
    assert 'name="acquisition_weights"' not in html
    assert "Unstable under flips and zooms" in html  # the scores say what they measure
    assert 'name="edges"' in html and 'name="pairs"' in html


def test_weights_are_saved_as_overrides_of_the_defaults(project, pi_client):
    response = pi_client.post(_url(project), _settings_post(project, skeleton=2.0, tta=0))
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.acquisition_weights == {"skeleton": 2.0, "tta": 0.0}
    html = pi_client.get(_url(project)).content.decode()
    assert '<input type="number" name="weight_skeleton" value="2.0"' in html


@pytest.mark.parametrize(("weights", "message"), [
    ({"coverage": -1}, "greater than or equal to 0"),
    ({"entropy": "lots"}, "Enter a number."),
    ({name: 0 for name in DEFAULT_WEIGHTS}, "At least one acquisition weight must be above 0."),
])
def test_bad_weights_are_refused_and_change_nothing(project, pi_client, weights, message):
    project.acquisition_weights = {"peaks": 3.0}
    project.save()
    response = pi_client.post(_url(project), _settings_post(project, **weights))
    assert response.status_code == 400
    assert message in response.content.decode()
    project.refresh_from_db()
    assert project.acquisition_weights == {"peaks": 3.0}


def test_skeleton_editor_saves_edges_and_pairs(project, pi_client):
    before = {bp["name"]: bp["id"] for bp in skeleton_dict(project)["bodyparts"]}
    response = pi_client.post(_url(project), {
        "save_skeleton": "", "edges": "snout, leftear\nsnout - rightear\nleftear, tailbase",
        "pairs": "leftear, rightear"})
    assert response.status_code == 302
    skeleton = skeleton_dict(project)
    assert skeleton["edges"] == [["snout", "leftear"], ["snout", "rightear"],
                                 ["leftear", "tailbase"]]
    assert skeleton["pairs"] == [["leftear", "rightear"]]
    assert {bp["name"]: bp["id"] for bp in skeleton["bodyparts"]} == before  # labels keep ids
    html = pi_client.get(_url(project)).content.decode()
    assert "snout, leftear\nsnout, rightear\nleftear, tailbase" in html


@pytest.mark.parametrize(("edges", "pairs", "message"), [
    ("snout, paw", "", "Unknown body part(s): paw."),
    ("snout, snout", "", "snout – snout is not a pair of two different body parts."),
    ("snout, leftear\nleftear, snout", "", "The edge leftear–snout is listed twice."),
    ("snout leftear", "", "edges: write one pair per line, like &#x27;leftear, rightear&#x27;"),
    ("", "leftear, rightear\nrightear, tailbase", "A body part can be in one left/right pair"),
])
def test_bad_skeleton_is_refused_with_a_message_and_changes_nothing(
    project, pi_client, edges, pairs, message
):
    before = skeleton_dict(project)
    response = pi_client.post(_url(project), {"save_skeleton": "", "edges": edges,
                                              "pairs": pairs})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert skeleton_dict(project) == before


def test_the_fast_model_tolerance_is_a_setting(project, pi_client):
    data = {**_settings_post(project), "student_tolerance_px": "0.75"}
    assert pi_client.post(_url(project), data).status_code == 302
    project.refresh_from_db()
    assert project.student_tolerance_px == 0.75
    response = pi_client.post(_url(project), {**data, "student_tolerance_px": "-1"})
    assert response.status_code == 400
    assert "greater than or equal to 0" in response.content.decode()
    project.refresh_from_db()
    assert project.student_tolerance_px == 0.75


@pytest.mark.django_db
def test_animals_are_settings_and_names_must_fit(project, users, client):
    client.force_login(users["pi"])
    bad = client.post(_url(project), {**_settings_post(project), "max_animals": 2,
                                      "individuals": "alice"})
    assert bad.status_code == 400 and b"Name every animal or none" in bad.content
    ok = client.post(_url(project), {**_settings_post(project), "max_animals": 2,
                                     "individuals": "alice\nbob"})
    assert ok.status_code == 302
    project.refresh_from_db()
    assert (project.max_animals, project.individuals) == (2, ["alice", "bob"])

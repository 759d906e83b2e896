"""Who may call which annotation endpoint: anonymous 401, outsiders 404, wrong role 403."""

from __future__ import annotations

import pytest

from annotation.models import QueueEntry
from tests.annotation.factories import LabelFactory, points_for

pytestmark = pytest.mark.django_db

LABELERS = {"pi", "annotator", "staff"}
REVIEWERS = {"pi", "reviewer", "staff"}
PI = {"pi", "staff"}
EVERYONE = {"pi", "annotator", "reviewer", "staff"}


def endpoints(project, frame, label, entry):
    save = {"points": points_for(project), "version": 0}
    return [
        ("post", "queue/next/", None, LABELERS),
        ("post", f"queue/{entry.pk}/skip/", {"reason": "x"}, LABELERS),
        ("post", f"queue/{entry.pk}/flag/", {"reason": "x"}, LABELERS),
        ("post", f"queue/{entry.pk}/release/", None, LABELERS),
        ("get", "queue/", None, PI),
        ("post", "queue/", {"frame_ids": [frame.pk]}, PI),
        ("patch", f"queue/{entry.pk}/", {"pinned": True}, PI),
        ("post", "queue/clear/", None, PI),
        ("get", f"frames/{frame.pk}/label/", None, EVERYONE),
        ("put", f"frames/{frame.pk}/label/", save, LABELERS),
        ("get", "labels/", None, EVERYONE),
        ("get", f"labels/{label.pk}/history/", None, EVERYONE),
        ("get", "annotation/progress/", None, EVERYONE),
        ("post", "review/next/", None, REVIEWERS),
        ("post", f"labels/{label.pk}/review/", {"decision": "accept"}, REVIEWERS),
        ("get", "agreement/", None, REVIEWERS),
    ]


@pytest.mark.parametrize("role", ["pi", "annotator", "reviewer", "staff", "outsider",
                                  "other_pi", None])
def test_role_matrix(project, frames, users, as_user, role):
    entry = QueueEntry.objects.create(project=project, frame=frames[1], reason="manual")
    label = LabelFactory(project=project, frame=frames[2], annotator=users["annotator"])
    for method, path, data, allowed in endpoints(project, frames[0], label, entry):
        base = f"/api/projects/{project.pk}/"
        response = getattr(as_user(role), method)(base + path, data, format="json")
        if role is None:
            expected = {401}
        elif role in {"outsider", "other_pi"}:
            expected = {404}
        elif role not in allowed:
            expected = {403}
        else:
            expected = {200, 204, 404, 409}  # allowed: the state decides the answer
        assert response.status_code in expected, (role, method, path, response.status_code)

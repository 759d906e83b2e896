"""factory_boy factories for the platform models."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from accounts.models import Membership, Role
from projects.models import Project
from projects.skeleton import set_skeleton

DEFAULT_SKELETON = {
    "bodyparts": [{"name": n} for n in ("snout", "leftear", "rightear", "tailbase")],
    "edges": [["snout", "leftear"], ["snout", "rightear"], ["snout", "tailbase"]],
    "pairs": [["leftear", "rightear"]],
}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Project {n}")

    @factory.post_generation
    def skeleton(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            set_skeleton(obj, extracted or DEFAULT_SKELETON)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    project = factory.SubFactory(ProjectFactory)
    role = Role.ANNOTATOR

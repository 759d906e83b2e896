"""DRF glue for the access helper: views declare the roles each HTTP method needs."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from accounts.access import ALL_ROLES, get_project_for
from accounts.models import Role
from projects.models import Project

SAFE = ("GET", "HEAD", "OPTIONS")


class ProjectScopedMixin:
    """For views under /api/projects/<project_id>/…: resolves and authorizes the project.

    `read_roles` apply to safe methods, `write_roles` to the others. Set them per view.
    """

    read_roles: tuple[Role, ...] = ALL_ROLES
    write_roles: tuple[Role, ...] = (Role.PI,)
    kwargs: dict[str, Any]
    request: Request

    def roles_for(self, method: str) -> tuple[Role, ...]:
        return self.read_roles if method in SAFE else self.write_roles

    def get_project(self) -> Project:
        if not hasattr(self, "_project"):
            self._project = get_project_for(
                self.request.user,
                int(self.kwargs["project_id"]),
                self.roles_for(self.request.method or "GET"),
            )
        return self._project

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self.get_project()

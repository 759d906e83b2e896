"""A PoseLoop user over HTTP: what the system tests and `bench loop` do to a running stack.

Every call goes through the public REST API (token auth) or the web forms (invitation
sign-up), never the ORM, so a check made with it sees what a lab's users and scripts see.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

DONE = ("succeeded", "failed", "cancelled")


class LoopError(AssertionError):
    """An answer or a wait that went wrong; the message says what was expected."""


def wait_for(what: str, check: Callable[[], Any], timeout_s: float, every_s: float = 0.25
             ) -> Any:
    """Call `check` until it returns something truthy; LoopError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise LoopError(f"timed out after {timeout_s:.0f} s waiting for {what} (last: {last!r})")


@dataclass
class Client:
    """One user's API session: `base` is the site URL ending in '/'."""

    base: str
    username: str
    token: str
    session: requests.Session

    @classmethod
    def login(cls, base: str, username: str, password: str) -> Client:
        response = requests.post(f"{base}api/auth/token/",
                                 data={"username": username, "password": password}, timeout=30)
        if response.status_code != 200:
            raise LoopError(f"login of {username}: {response.status_code} {response.text}")
        session = requests.Session()
        session.headers["Authorization"] = f"Token {response.json()['token']}"
        return cls(base, username, response.json()["token"], session)

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kwargs: Any
             ) -> requests.Response:
        """`path` below /api/ (e.g. 'projects/'); LoopError unless the status is expected."""
        response = self.session.request(method, f"{self.base}api/{path}", timeout=120, **kwargs)
        if response.status_code not in expect:
            raise LoopError(f"{method} {path} by {self.username}: {response.status_code} "
                            f"(expected {expect}): {response.text[:500]}")
        return response

    def get(self, path: str, expect: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        response = self.call("GET", path, expect, **kwargs)
        return response.json() if response.content else None

    def post(self, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201, 202),
             **kwargs: Any) -> Any:
        response = self.call("POST", path, expect, json=body, **kwargs)
        return response.json() if response.content else None

    def put(self, path: str, body: Any, expect: tuple[int, ...] = (200,)) -> Any:
        return self.call("PUT", path, expect, json=body).json()

    # --- the PI ---------------------------------------------------------------------------

    def create_project(self, name: str, bodyparts: list[dict[str, str]],
                       edges: list[list[str]], pairs: list[list[str]], **settings: Any
                       ) -> dict[str, Any]:
        skeleton = {"bodyparts": bodyparts, "edges": edges, "pairs": pairs}
        return self.post("projects/", {"name": name, "skeleton": skeleton, **settings},
                         expect=(201,))

    def upload_video(self, project_id: int, path: Path) -> dict[str, Any]:
        with open(path, "rb") as handle:
            response = self.call("POST", f"projects/{project_id}/videos/", (201, 202),
                                 files={"file": (path.name, handle, "video/mp4")})
        return response.json()

    def wait_job(self, project_id: int, job_id: int, timeout_s: float) -> dict[str, Any]:
        """Poll a job until it ends; LoopError unless it succeeded."""
        job = wait_for(f"job {job_id} to end",
                       lambda: _ended(self.get(f"projects/{project_id}/jobs/{job_id}/")),
                       timeout_s)
        if job["status"] != "succeeded":
            raise LoopError(f"job {job_id} ({job['kind']}) {job['status']}: "
                            f"{job.get('message')} {job.get('error')}")
        return job

    def current_model(self, project_id: int) -> dict[str, Any] | None:
        """The project's current model version, or None (404) before the first one."""
        response = self.call("GET", f"projects/{project_id}/models/current/", (200, 404))
        return response.json() if response.status_code == 200 else None

    def jobs(self, project_id: int, kind: str) -> list[dict[str, Any]]:
        return [j for j in self.get(f"projects/{project_id}/jobs/")["results"]
                if j["kind"] == kind]

    def invite(self, project_id: int, role: str) -> str:
        """A new invitation link (an absolute URL)."""
        invitation = self.post(f"projects/{project_id}/invitations/", {"role": role},
                               expect=(201,))
        return invitation["url"]

    # --- annotators -----------------------------------------------------------------------

    def lease(self, project_id: int) -> dict[str, Any] | None:
        response = self.call("POST", f"projects/{project_id}/queue/next/", (200, 204))
        return response.json() if response.status_code == 200 else None

    def submit(self, project_id: int, leased: dict[str, Any], points: list[dict[str, Any]],
               seconds: float = 5.0) -> dict[str, Any]:
        body = {"points": points, "version": 0, "seconds_spent": seconds, "source": "human",
                "request_id": str(uuid.uuid4()), "entry": leased["entry"]["id"], "submit": True}
        if leased.get("label"):
            body["version"] = leased["label"]["version"]
        return self.put(f"projects/{project_id}/frames/{leased['frame']['id']}/label/", body)


def sign_up(url: str, username: str, password: str) -> None:
    """Accept an invitation link as a new user through the sign-up form, as a browser does."""
    session = requests.Session()
    page = session.get(url, timeout=30)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if page.status_code != 200 or match is None:
        raise LoopError(f"invitation page {url}: {page.status_code}")
    response = session.post(url, timeout=30, headers={"Referer": url}, data={
        "csrfmiddlewaretoken": match.group(1), "username": username,
        "password1": password, "password2": password})
    if response.status_code != 200 or "/accounts/invite/" in response.url:
        raise LoopError(f"sign-up of {username} failed: {response.status_code} {response.url}")


def _ended(job: dict[str, Any]) -> dict[str, Any] | None:
    return job if job["status"] in DONE else None

"""Authorization on every route that acts in a workspace x every role (issue 20).

The routes are found in the app itself (every `APIRoute` whose dependencies include one of
`workspaces.access.ACCESS_DEPENDENCIES`), so a route added later is swept without anybody
listing it here. For each route:

- its admitted roles are its method's default (GET: every member; other methods: owner and
  editor) unless `ROLE_EXCEPTIONS` below lists it: a new route whose roles differ from the
  default fails this test until its roles are written down here, on purpose;
- each role not admitted gets 403 with `detail.requiredRoles`; each admitted role does not;
- with an id in its path, the id of a resource of another workspace answers 404, exactly as a
  missing one (`PATH_IDS` makes those resources; an unknown path parameter fails the test).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import httpx
from fastapi.routing import APIRoute

from instasched.workspaces.access import ACCESS_DEPENDENCIES, ROLES_EXTRA, Role
from tests.factories import Api, User, png_bytes

OWNER, EDITOR, APPROVER, VIEWER = (r.value for r in Role)
EVERY_ROLE = {OWNER, EDITOR, APPROVER, VIEWER}
DEFAULT_READ = EVERY_ROLE
DEFAULT_WRITE = {OWNER, EDITOR}

POSTS = "/api/instagram/scheduling/posts"
WS = "/api/workspaces/{workspaceId}"

# Routes whose admitted roles differ from their method's default, and why. A route missing here
# whose roles differ from the default fails `test_every_route_declares_its_roles_on_purpose`.
ROLE_EXCEPTIONS: dict[tuple[str, str], set[str]] = {
    # Connecting, reauthorising and disconnecting Instagram accounts: owners only.
    ("POST", "/api/instagram/accounts"): {OWNER},
    ("DELETE", "/api/instagram/accounts/{account_id}"): {OWNER},
    ("GET", "/api/instagram/oauth/authorize-url"): {OWNER},
    ("GET", "/api/instagram/oauth/facebook/authorize-url"): {OWNER},
    ("GET", "/api/instagram/oauth/facebook/pending/{pending_id}"): {OWNER},
    ("POST", "/api/instagram/oauth/facebook/pending/{pending_id}/connect"): {OWNER},
    # Webhook subscriptions (their secrets, where the workspace's events go): owners only.
    ("POST", "/api/webhooks"): {OWNER},
    ("GET", "/api/webhooks"): {OWNER},
    ("GET", "/api/webhooks/{webhookId}"): {OWNER},
    ("PATCH", "/api/webhooks/{webhookId}"): {OWNER},
    ("DELETE", "/api/webhooks/{webhookId}"): {OWNER},
    ("POST", "/api/webhooks/{webhookId}/test"): {OWNER},
    ("GET", "/api/webhooks/{webhookId}/deliveries"): {OWNER},
    # A template preview changes nothing: every member.
    ("POST", "/api/instagram/scheduling/templates/{template_id}/render"): EVERY_ROLE,
    # The workspace itself, its members and invitations: owners only...
    ("PATCH", WS): {OWNER},
    ("DELETE", WS): {OWNER},
    ("PATCH", WS + "/members/{userId}"): {OWNER},
    ("POST", WS + "/invitations"): {OWNER},
    ("GET", WS + "/invitations"): {OWNER},
    ("DELETE", WS + "/invitations/{invitationId}"): {OWNER},
    # ...but any member may leave (removing somebody else: `IN_HANDLER`).
    ("DELETE", WS + "/members/{userId}"): EVERY_ROLE,
    # Deciding on a post awaiting approval: approvers and owners, never its editor.
    ("POST", POSTS + "/{postId}/approve"): {OWNER, APPROVER},
    ("POST", POSTS + "/{postId}/reject"): {OWNER, APPROVER},
}

# Admitted by the route for every member, refused by the handler when the target is somebody
# else: the sweep (which names somebody else) expects the 403 naming these roles.
IN_HANDLER: dict[tuple[str, str], list[str]] = {
    ("DELETE", WS + "/members/{userId}"): [OWNER],
}

# A viewer writes nowhere; these are the only non-GET routes a viewer may call.
VIEWER_NON_GET = {
    ("POST", "/api/instagram/scheduling/templates/{template_id}/render"),
    ("DELETE", WS + "/members/{userId}"),
}


def access_routes(app: Any) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every route acting in a workspace, from `app.routes`."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, APIRoute]]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield prefix + route.path, route
            elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.16x)
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)

    def calls(dependant: Any) -> Iterator[Any]:
        for sub in dependant.dependencies:
            yield sub.call
            yield from calls(sub)

    found = []
    for path, route in walk(list(app.routes), ""):
        if any(call in ACCESS_DEPENDENCIES for call in calls(route.dependant)):
            found += [(method, path, route) for method in sorted(route.methods or ())]
    # The owner's delete of the workspace last: nothing after it runs in a deleted workspace.
    found.sort(key=lambda r: (r[0], r[1]) == ("DELETE", WS))
    return found


def expected_roles(method: str, path: str) -> set[str]:
    default = DEFAULT_READ if method in ("GET", "HEAD") else DEFAULT_WRITE
    return ROLE_EXCEPTIONS.get((method, path), default)


def example_body(route: APIRoute) -> Any:
    """The route's request body example (every body model has one: test_openapi), else {}."""
    if route.body_field is None:
        return None
    model = getattr(route.body_field, "type_", None) or route.body_field.field_info.annotation
    extra = getattr(model, "model_config", {}).get("json_schema_extra")
    if isinstance(extra, dict) and extra.get("examples"):
        return extra["examples"][0]
    return {}


def fill(path: str, ids: dict[str, str]) -> str:
    names = re.findall(r"{(\w+)}", path)
    unknown = [n for n in names if n not in ids]
    assert not unknown, f"{path}: add a resource for the path parameter(s) {unknown} to the sweep"
    for name in names:
        path = path.replace("{" + name + "}", ids[name])
    return path


_QUERY_VALUES = {
    datetime: "2027-01-04T12:00:00Z",
    date: "2027-01-04",
    int: "1",
    str: "x",
    uuid.UUID: str(uuid.UUID(int=1)),
}


def required_query(route: APIRoute) -> dict[str, str]:
    """A valid value for each required query parameter (e.g. `at`, `since`)."""
    found = {}
    for field in route.dependant.query_params:
        if field.field_info.is_required():
            kind = field.field_info.annotation
            assert kind in _QUERY_VALUES, f"{route.path}: a value for the query {field.alias}"
            found[field.alias] = _QUERY_VALUES[kind]
    return found


async def call(
    http: httpx.AsyncClient, method: str, route: APIRoute, path: str, headers: dict[str, str]
) -> httpx.Response:
    return await http.request(
        method, path, headers=headers, json=example_body(route), params=required_query(route)
    )


async def member(api: Api, http: httpx.AsyncClient, owner: User, workspace: str, role: str) -> User:
    """A new user made a member with `role` through an invitation link."""
    user = await api.user()
    r = await http.post(
        f"/api/workspaces/{workspace}/invitations",
        json={"email": user.email, "role": role},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    r = await http.post(
        "/api/workspaces/invitations/accept",
        json={"token": r.json()["token"]},
        headers=user.headers,
    )
    assert r.status_code == 200 and r.json()["role"] == role, r.text
    return user


async def team(http: httpx.AsyncClient, owner: User, name: str = "Team") -> str:
    r = await http.post("/api/workspaces", json={"name": name}, headers=owner.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_every_route_declares_its_roles_on_purpose(live_server: Any) -> None:
    routes = access_routes(live_server.app)
    assert len(routes) >= 60, len(routes)
    seen = set()
    for method, path, route in routes:
        seen.add((method, path))
        declared = (route.openapi_extra or {}).get(ROLES_EXTRA)
        default = DEFAULT_READ if method in ("GET", "HEAD") else DEFAULT_WRITE
        actual = set(declared) if declared is not None else default
        assert actual == expected_roles(method, path), (
            f"{method} {path} admits {sorted(actual)}: list it in ROLE_EXCEPTIONS with the "
            "reason if that is deliberate"
        )
        if VIEWER in actual and method not in ("GET", "HEAD"):
            assert (method, path) in VIEWER_NON_GET, f"a viewer may call {method} {path}"
    assert set(ROLE_EXCEPTIONS) <= seen, sorted(set(ROLE_EXCEPTIONS) - seen)


async def test_each_role_is_refused_or_admitted_on_every_route(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    owner = await api.user()
    shared = await team(http, owner)
    members = {
        role: await member(api, http, owner, shared, role) for role in (EDITOR, APPROVER, VIEWER)
    }
    # The owner acts in a workspace of its own: its calls (deleting the workspace included)
    # must not disturb the others'.
    own = await team(http, owner, "Owner's sweep")
    callers = [(OWNER, owner, own)] + [(role, user, shared) for role, user in members.items()]
    refused = admitted = 0
    for method, path, route in access_routes(live_server.app):
        expected = expected_roles(method, path)
        for role, user, workspace in callers:
            ids = {name: str(uuid.uuid4()) for name in re.findall(r"{(\w+)}", path)}
            ids["day_of_week"] = "1"
            ids["workspaceId"] = workspace
            headers = {**user.headers, "X-Workspace-Id": workspace}
            r = await call(http, method, route, fill(path, ids), headers)
            where = f"{method} {path} as {role}: {r.status_code} {r.text[:300]}"
            in_handler = IN_HANDLER.get((method, path))
            if role not in expected or (in_handler and role not in in_handler):
                needed = sorted(in_handler or expected)
                assert r.status_code == 403, where
                assert sorted(r.json()["detail"]["requiredRoles"]) == needed, where
                assert r.json()["detail"]["role"] == role, where
                refused += 1
            else:
                assert r.status_code != 403, where
                assert r.status_code < 500, where
                admitted += 1
    assert refused > 50 and admitted > 100, (refused, admitted)


async def test_a_viewer_reads_everything_and_writes_nothing(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    """With real resources: a viewer of a workspace lists its accounts and posts, and every
    write on them is refused."""
    owner = await api.user()
    shared = await team(http, owner)
    viewer = await member(api, http, owner, shared, VIEWER)
    in_shared = {"X-Workspace-Id": shared}
    r = await http.get("/api/instagram/accounts", headers={**viewer.headers, **in_shared})
    assert r.status_code == 200 and r.json() == []
    r = await http.post(
        "/api/instagram/scheduling/templates",
        json={"name": "t", "captionTemplate": "hi"},
        headers={**viewer.headers, **in_shared},
    )
    assert r.status_code == 403
    assert r.json()["detail"]["requiredRoles"] == [OWNER, EDITOR]
    assert "owner or editor" in r.json()["message"]
    r = await http.post(
        "/api/instagram/scheduling/templates",
        json={"name": "t", "captionTemplate": "hi"},
        headers={**owner.headers, **in_shared},
    )
    assert r.status_code == 201, r.text
    template = r.json()["id"]
    assert r.json()["workspaceId"] == shared
    r = await http.get(
        f"/api/instagram/scheduling/templates/{template}", headers={**viewer.headers, **in_shared}
    )
    assert r.status_code == 200 and r.json()["name"] == "t"
    r = await http.delete(
        f"/api/instagram/scheduling/templates/{template}", headers={**viewer.headers, **in_shared}
    )
    assert r.status_code == 403
    # Without the header the viewer acts in its own personal workspace: not there.
    r = await http.get(f"/api/instagram/scheduling/templates/{template}", headers=viewer.headers)
    assert r.status_code == 404


async def resources(api: Api, http: httpx.AsyncClient, owner: User) -> dict[str, str]:
    """One of each resource a path names, in `owner`'s personal workspace."""
    account = await api.account(owner)
    r = await http.post(
        "/api/instagram/scheduling/media/upload",
        files={"file": ("a.png", png_bytes(1080, 1080), "image/png")},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    asset = r.json()
    r = await http.post(
        "/api/instagram/scheduling/templates",
        json={"name": "t", "captionTemplate": "hi {{x}}"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    template = r.json()["id"]
    r = await http.post(
        POSTS,
        json={
            "instagramAccountId": str(account.id),
            "scheduledFor": "2027-03-01T10:00:00Z",
            "caption": "hello",
            "mediaIds": [asset["id"]],
            "mediaType": "IMAGE",
        },
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    post = r.json()["id"]
    r = await http.post(
        "/api/webhooks",
        json={"url": "https://127.0.0.1:9/hook", "events": ["post.published"]},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    webhook = r.json()["id"]
    # A Facebook Login that allowed two Pages leaves a pending choice.
    ig1, ig2 = f"ig_{secrets.token_hex(4)}", f"ig_{secrets.token_hex(4)}"
    fb = await api.facebook_user(
        [{"name": "P1", "igUsername": ig1}, {"name": "P2", "igUsername": ig2}]
    )
    query = await api.facebook_consent(owner, username=fb["name"])
    r = await http.get(
        "/api/instagram/oauth/facebook/callback", params=query, headers=owner.headers
    )
    assert r.status_code == 202, r.text
    pending = r.json()["id"]
    return {
        "account_id": str(account.id),
        "accountId": str(account.id),
        "asset_id": asset["id"],
        "template_id": template,
        "postId": post,
        "webhookId": webhook,
        "pending_id": pending,
        "day_of_week": "1",
    }


async def test_another_workspaces_ids_answer_404_on_every_route(
    api: Api, http: httpx.AsyncClient, live_server: Any
) -> None:
    owner = await api.user()
    ids = await resources(api, http, owner)
    # The owner acts in another workspace of theirs, naming the personal workspace's ids.
    other = await team(http, owner, "Other")
    headers = {**owner.headers, "X-Workspace-Id": other}
    # The workspace routes name a workspace the caller is not a member of: somebody else's,
    # with a member and an invitation.
    stranger = await api.user()
    foreign = await team(http, stranger, "Foreign")
    r = await http.post(
        f"/api/workspaces/{foreign}/invitations",
        json={"email": "x@example.com", "role": EDITOR},
        headers=stranger.headers,
    )
    assert r.status_code == 201, r.text
    ids |= {"workspaceId": foreign, "userId": str(stranger.id), "invitationId": r.json()["id"]}
    checked = 0
    for method, path, route in access_routes(live_server.app):
        if "{" not in path:
            continue
        r = await call(http, method, route, fill(path, ids), headers)
        assert r.status_code == 404, f"{method} {path}: {r.status_code} {r.text[:300]}"
        checked += 1
    assert checked >= 35, checked
    # Nothing of the personal workspace changed: the post is still there and scheduled.
    r = await http.get(f"{POSTS}/{ids['accountId']}/{ids['postId']}", headers=owner.headers)
    assert r.status_code == 200 and r.json()["status"] == "scheduled", r.text
    r = await http.get(f"/api/workspaces/{foreign}", headers=stranger.headers)
    assert r.status_code == 200

"""The history events the posts API writes: created, edited (what changed), cancelled."""

from __future__ import annotations

from typing import Any

from tests.posts.conftest import Poster, later


async def test_create_edit_cancel_are_in_the_history_with_what_changed(poster: Poster) -> None:
    post = await poster.create(caption="First words", firstComment=None)
    r = await poster.put(
        f"/posts/{post['id']}",
        json={"caption": "Second words", "firstComment": "Link in bio"},
    )
    assert r.status_code == 200, r.text
    # An edit that changes nothing writes no event.
    r = await poster.put(f"/posts/{post['id']}", json={"caption": "Second words"})
    assert r.status_code == 200, r.text
    assert (await poster.delete(f"/posts/{post['id']}")).status_code == 200

    r = await poster.get(f"/posts/{post['id']}/history")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["postId"] == post["id"] and body["status"] == "cancelled"
    events = body["events"]
    assert [e["kind"] for e in events] == ["created", "edited", "cancelled"]
    assert all(e["actorUserId"] == str(poster.user.id) for e in events)
    assert events[0]["detail"]["scheduledFor"]
    assert events[0]["summary"] == "Created and scheduled"
    assert events[1]["detail"]["changed"] == {
        "caption": {"from": "First words", "to": "Second words"},
        "firstComment": {"from": None, "to": "Link in bio"},
    }
    assert events[1]["summary"] == "Edited: caption, firstComment"
    assert events[0]["at"] <= events[1]["at"] <= events[2]["at"]


async def test_a_moved_post_says_what_moved(poster: Poster) -> None:
    post = await poster.create()
    new_time = later(days=3)
    r = await poster.put(f"/posts/{post['id']}", json={"scheduledFor": new_time})
    assert r.status_code == 200, r.text
    r = await poster.get(f"/posts/{post['id']}/history")
    edited = r.json()["events"][-1]
    assert edited["kind"] == "edited" and list(edited["detail"]["changed"]) == ["scheduledFor"]
    change = edited["detail"]["changed"]["scheduledFor"]
    assert change["from"] != change["to"]

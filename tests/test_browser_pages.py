"""The classroom page's edges in a real browser: hostile text, refusals and endings,
reconnecting, host actions, a phone-sized screen, the invite flow."""

from __future__ import annotations

import pytest

from signaling.auth import mint
from tests.browser import BrowserEnv, browser_env, env, reported  # noqa: F401  (fixtures)
from tests.conftest import SECRET

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOSTILE = [
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned = 'img'\">",
    "<svg onload=\"window.__pwned = 'svg'\"></svg>",
    "javascript:window.__pwned = 'url'",
    '"><a href="javascript:window.__pwned=1">click</a>',
    "{{constructor.constructor('window.__pwned=1')()}}",
]
SOCKET = "const s = window.__classroom.conn.socket"
NO_MARKUP = """() => document.querySelectorAll(
    'main script, main img:not(#sheet > img), main svg, main a[href^="javascript"], main iframe'
).length"""
"""Markup that user text would have made (the slide's image is the page's own)."""


@reported
async def test_hostile_text_is_shown_as_text_and_never_runs(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Security")
    host = await env.server.join(cid, "teacher", "host")
    mallory = await env.server.join(cid, "mallory", name=HOSTILE[1])
    viewer = await env.join(cid, "viewer")
    for text in HOSTILE:
        assert (await mallory.call("chat:send", {"text": text}))["ok"]
        assert (await mallory.call("qa:ask", {"text": text}))["ok"]
    ack = await host.call(
        "poll:create", {"question": HOSTILE[0], "kind": "single", "options": HOSTILE}
    )
    assert (await host.call("poll:open", {"poll_id": ack["poll_id"]}))["ok"]

    for text in HOSTILE:
        await viewer.wait_text("#chat .text", text)
    await viewer.wait_text("#participants .name", HOSTILE[1])
    await viewer.wait_text("#chat .who", HOSTILE[1])
    await viewer.tab("qa")
    await viewer.wait_text("#questions .qtext", HOSTILE[2])
    await viewer.tab("polls")
    for text in HOSTILE:
        await viewer.wait_text("#polls .choice span", text)
    await viewer.page.locator("#polls .choice input").nth(1).check()
    await viewer.page.click("#polls .vote-btn")
    await viewer.wait_text("#polls .yours", HOSTILE[1])
    assert await viewer.page.evaluate("() => window.__pwned === undefined")
    assert await viewer.page.evaluate(NO_MARKUP) == 0
    assert viewer.csp_violations() == []
    assert viewer.errors == []


@reported
async def test_ended_class_and_refused_tokens_say_why(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Short class")
    host = await env.server.join(cid, "teacher", "host")
    learner = await env.join(cid, "ana")
    assert (await host.call("class:end", {}))["ok"]
    await learner.wait_text("#banner-text", "This class has ended")
    assert await learner.page.is_hidden("#class")

    late = await env.join_refused(env.link(cid, "ben"))
    await late.wait_text("#banner-text", "This class has ended")

    other = await env.server.create_class("Other class")
    expired = mint(SECRET, other, "cy", "Cy", "participant", ttl_s=-60)
    person = await env.join_refused(f"{env.server.url}/c/{other}#token={expired}")
    await person.wait_text("#banner-text", "Your join link has expired")
    long_gone = mint(SECRET, other, "cy", "Cy", "participant", ttl_s=-86_400)
    person = await env.open(f"{env.server.url}/c/{other}#token={long_gone}")
    await person.wait_text("#banner-text", "Your join link has expired")
    wrong = env.server.token(cid, "dee")
    person = await env.open(f"{env.server.url}/c/{other}#token={wrong}")
    await person.wait_text("#banner-text", "not valid for this class")
    for p in env.people:
        assert p.csp_violations() == []


@reported
async def test_second_window_replaces_the_first(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Twice")
    first = await env.join(cid, "ana")
    await env.join(cid, "ana")
    await first.wait_text("#banner-text", "another window or device")
    assert await first.page.is_visible("#banner-retry")


@reported
async def test_reconnect_catches_up_without_duplicates(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Flaky network")
    host = await env.join(cid, "teacher", "host")
    ana = await env.server.join(cid, "ana")
    assert (await ana.call("chat:send", {"text": "before"}))["ok"]
    await host.wait_text("#chat .text", "before")
    # The connection drops (reconnecting held back so that a message lands meanwhile).
    await host.page.evaluate(f"() => {{ {SOCKET}; s.io.reconnection(false); s.io.engine.close() }}")
    await host.wait_text("#status", "Connection lost")
    assert (await ana.call("chat:send", {"text": "while away"}))["ok"]
    await host.page.evaluate(f"() => {{ {SOCKET}; s.io.reconnection(true); s.connect(); }}")
    await host.wait_text("#status", "Reconnected")
    await host.wait_text("#chat .text", "while away")
    texts = await host.page.locator("#chat .text").all_inner_texts()
    assert texts == ["before", "while away"]


@reported
async def test_host_promotes_and_mutes(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Roles")
    host = await env.join(cid, "teacher", "host", "Ms Rivera")
    ana = await env.join(cid, "ana", name="Ana Souza")
    await ana.page.wait_for_function("() => window.__classroom.media.published")
    await host.tab("people")
    await host.page.click("button[aria-label='Mute Ana Souza']")
    await ana.wait_text("#status", "A host muted your microphone")
    await ana.wait_text("#mic", "Unmute")
    await host.page.click("button[aria-label='Make Ana Souza a moderator']")
    await ana.tab("polls")
    await ana.page.wait_for_selector("#poll-create:not([hidden])")
    await host.wait_text("#participants .role", "Moderator")
    # Raised hands come first in the host's list.
    await ana.page.click("#hand")
    await host.page.wait_for_function(
        "() => document.querySelector('#participants .person .name').textContent === 'Ana Souza'"
    )


@reported
async def test_phone_width_and_keyboard(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("A class with a rather long title for a small screen")
    host = await env.server.join(cid, "teacher", "host")
    assert (await host.call("chat:send", {"text": "x" * 300}))["ok"]
    phone = await env.join(cid, "ana", width=390, height=844)
    await phone.wait_text("#chat .text", "xxxx")
    for tab in ("chat", "people", "polls", "qa", "rooms"):
        await phone.tab(tab)
        width = await phone.page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"{tab} panel scrolls sideways ({width}px)"
    # The tabs follow the arrow keys; every control has a name.
    await phone.page.focus("#tab-rooms")
    await phone.page.keyboard.press("ArrowRight")
    assert await phone.page.evaluate("() => document.activeElement.id") == "tab-chat"
    assert await phone.page.is_visible("#chat-input")
    unnamed = await phone.page.evaluate(
        """() => [...document.querySelectorAll('button, input, select, textarea')]
            .filter((el) => !el.closest('[hidden]') && el.type !== 'hidden')
            .filter((el) => !(el.labels?.length || el.getAttribute('aria-label')
                              || el.textContent.trim()))
            .map((el) => el.id || el.outerHTML.slice(0, 60))"""
    )
    assert unnamed == []


@reported
async def test_invite_asks_for_a_name(env: BrowserEnv) -> None:  # noqa: F811
    status, body = await env.server.http("POST", "/api/classes", {"title": "Open day"})
    assert status == 201
    invite = body["links"]["participant"].split("#", 1)[1]  # the link names the configured port
    person = await env.open(f"{env.server.url}/c/{body['id']}#{invite}&test=1")
    await person.page.fill("#name-input", "Zoë Visitor")
    await person.page.click("#name-form button[type=submit]")
    await person.page.click("#join")
    await person.wait_text("#participants .name", "Zoë Visitor (you)")
    assert "#token=" in person.page.url


@reported
async def test_screen_share_is_shown_large(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Slides")
    host = await env.join(cid, "teacher", "host", "Ms Rivera")
    ana = await env.join(cid, "ana")
    await ana.wait_videos(1)
    await host.page.click("#screen")
    await host.wait_text("#screen", "Stop sharing")
    screen = "#spotlight .tile[data-source=screen] video"
    await ana.page.wait_for_function(f"() => document.querySelector('{screen}')?.readyState >= 2")
    await ana.wait_text("#spotlight .name", "Ms Rivera (screen)")
    await host.page.click("#screen")
    await ana.page.wait_for_selector("#spotlight .tile[data-source=screen]", state="detached")
    # Without a screen, the presenter (the host) is the large picture.
    await ana.wait_text("#spotlight .name", "Ms Rivera")


@reported
async def test_learners_choose_a_room_and_call_for_help(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Workshop")
    host = await env.join(cid, "teacher", "host", "Ms Rivera")
    ana = await env.join(cid, "ana", name="Ana Souza")
    await host.tab("rooms")
    await host.page.click("#bo-plan-form summary")
    await host.page.fill("#bo-names", "Red team\nBlue team")
    await host.page.select_option("#bo-assignment", "self")
    await host.page.fill("#bo-minutes", "10")
    await host.page.click("#bo-form button[value=open]")
    await ana.tab("rooms")
    await ana.wait_text("#bo-where", "Choose a room")
    await ana.page.click("button:text('Join Blue team')")
    await ana.wait_text("#bar-room", "You are in Blue team")
    await ana.wait_text("#bar-time", "Time left: 9:")
    await ana.page.click("#bar-help")
    await host.wait_text("#bo-help-list", "Ana Souza asks for help in Blue team")
    await host.page.click("#bo-help-list button:text('Visit')")
    await host.wait_text("#bar-room", "You are in Blue team")
    await ana.tab("chat")
    await ana.page.fill("#chat-input", "We are stuck on question 2")
    await ana.page.press("#chat-input", "Enter")
    await host.wait_text("#chat .text", "We are stuck on question 2")
    await host.page.click("#bo-close")
    await ana.wait_text("#status", "Breakout rooms close in")
    await host.page.click("#bo-close-now")
    await ana.page.wait_for_selector("#breakout-bar", state="hidden")


@reported
async def test_rating_and_word_cloud_polls(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Feedback")
    host = await env.join(cid, "teacher", "host")
    ana = await env.join(cid, "ana")
    await host.tab("polls")
    await ana.tab("polls")
    await host.page.click("#poll-create summary")
    await host.page.fill("#poll-question", "How clear was today?")
    await host.page.select_option("#poll-kind", "rating")
    await host.page.click("#poll-form button[type=submit]")
    await ana.page.select_option("#polls .vote select", "4")
    await ana.page.click("#polls .vote-btn")
    await host.wait_text("#polls .summary", "Average 4")
    await host.page.click("#poll-create summary")
    await host.page.fill("#poll-question", "One word for today?")
    await host.page.select_option("#poll-kind", "text")
    await host.page.click("#poll-form button[type=submit]")
    card = ana.page.locator("#polls .poll", has_text="One word for today?")
    await card.locator("input").fill("Planets")
    await card.locator(".vote-btn").click()
    await host.wait_text("#polls .cloud li", "planets (1)")
    await host.page.click("#polls .poll:has-text('One word') button:text('Show results')")
    await ana.wait_text("#polls .cloud li", "planets (1)")


@reported
async def test_direct_messages_and_moderated_questions(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Office hours")
    host = await env.join(cid, "teacher", "host", "Ms Rivera")
    ana = await env.join(cid, "ana", name="Ana Souza")
    ben = await env.server.join(cid, "ben", name="Ben Okafor")
    # A direct message, started from the participants list, reaches Ana only.
    await host.tab("people")
    await host.page.click("button[aria-label='Message Ana Souza']")
    await host.page.fill("#chat-input", "See me after class")
    await host.page.press("#chat-input", "Enter")
    await ana.wait_text("#chat .who", "Ms Rivera → you (direct)")
    assert (await ben.call("chat:send", {"text": "public"}))["ok"]
    await ana.wait_text("#chat .text", "public")
    assert [m["text"] for m in ben.received("chat:message")] == ["public"]
    # With moderation on, an anonymous question waits for approval.
    await host.tab("qa")
    await host.page.check("#qa-moderation")
    await ana.tab("qa")
    await ana.page.fill("#qa-input", "Can I hand in late?")
    await ana.page.check("#qa-anonymous")
    await ana.page.click("#qa-form button[type=submit]")
    await ana.wait_text("#status", "once a moderator approves it")
    await host.wait_text("#questions .meta", "Anonymous · 0 votes · Awaiting approval")
    assert not ben.received("qa:question")
    await host.page.click("#questions button:text('Approve')")
    await ana.wait_text("#questions .qtext", "Can I hand in late?")
    await ben.wait_for("qa:updated", lambda d: d["question"]["status"] == "open")
    await host.page.fill("#questions input", "Yes, by Friday")
    await host.page.click("#questions button:text('Mark answered')")
    await ana.wait_text("#questions .answer", "Answer: Yes, by Friday")


@reported
async def test_planned_rooms_assigned_from_the_lists(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Group work")
    host = await env.join(cid, "teacher", "host", "Ms Rivera")
    ana = await env.join(cid, "ana", name="Ana Souza")
    await host.tab("rooms")
    await host.page.click("#bo-plan-form summary")
    await host.page.fill("#bo-count", "2")
    await host.page.select_option("#bo-assignment", "manual")
    await host.page.click("#bo-form button[value=plan]")
    await host.wait_text("#bo-plan-summary", "2 rooms, manual assignment")
    await host.page.select_option("#bo-assign-ana", label="Room 2")
    room2 = host.page.locator("#bo-plan-rooms .room-box", has_text="Room 2")
    await room2.locator(".chip", has_text="Ana Souza").wait_for()
    await host.page.click("#bo-open-plan")
    await ana.wait_text("#bar-room", "You are in Room 2")
    # The participants list moves her elsewhere while the rooms are open.
    await host.tab("people")
    await host.page.select_option("#move-ana", label="Room 1")
    await ana.wait_text("#bar-room", "You are in Room 1")
    await host.tab("rooms")
    await host.page.click("#bo-close-now")
    await ana.page.wait_for_selector("#breakout-bar", state="hidden")
    # Leaving says so, and the others see her go.
    await ana.page.click("#leave")
    await ana.wait_text("#banner-text", "You left the class")
    await host.page.wait_for_function(
        "() => ![...document.querySelectorAll('#participants .name')]"
        ".some((el) => el.textContent.startsWith('Ana'))"
    )


@reported
async def test_mesh_class_connects_people_directly(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Tutorial", media="mesh")
    host = await env.join(cid, "teacher", "host", "Ms Rivera")
    ana = await env.join(cid, "ana", name="Ana Souza")
    for person in (host, ana):
        await person.wait_videos(1)
    await ana.page.click("#mic")
    await host.wait_text("#grid .tile[data-user=ana] .badges", "Muted")
    # The host reconnects: her connection starts afresh, and Ana's with her.
    await host.page.evaluate("() => window.__classroom.conn.socket.io.engine.close()")
    await host.wait_text("#status", "Reconnected")
    await host.wait_videos(1)


ANA_CAMERA = "() => Boolean(window.__classroom.media.mesh?.track('ana', 'camera'))"
ANA_SENDS = "() => window.__classroom.pcs.some((pc) => pc.getSenders().some((s) => s.track))"


@reported
async def test_mesh_publish_lock_stops_participants_sending(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Seminar", media="mesh")
    host = await env.join(cid, "teacher", "host", "Ms Rivera")
    ana = await env.join(cid, "ana", name="Ana Souza")
    for person in (host, ana):
        await person.wait_videos(1)
    await host.page.wait_for_function(ANA_CAMERA)
    # Locked: Ana's page takes its tracks off the direct connection and the host's
    # copy of her camera goes quiet; she still receives the host.
    await host.tab("people")
    await host.page.check("#lock-publish")
    await ana.page.wait_for_function(f"() => !({ANA_SENDS})()")
    await host.page.wait_for_function(f"() => !({ANA_CAMERA})()")
    await ana.wait_videos(1)
    await host.page.uncheck("#lock-publish")
    await ana.page.wait_for_function(ANA_SENDS)
    await host.page.wait_for_function(ANA_CAMERA)
    # Her page never offered to send while locked: the server refused nothing.
    assert "Could not connect" not in str(await ana.page.text_content("#status"))


@reported
async def test_failed_media_is_mended_by_reconnecting(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Bad wifi")
    await env.join(cid, "teacher", "host")
    ana = await env.join(cid, "ana")
    await ana.wait_videos(1)
    # What the page does when a peer connection fails: a new socket, media afresh.
    await ana.page.evaluate("() => window.__classroom.media.failed('sub')")
    await ana.wait_text("#status", "Reconnected")
    await ana.wait_videos(1)
    assert await ana.page.evaluate("() => window.__classroom.sub.connectionState") == "connected"

"""Self-service webview journeys: the funnel a chat links to, and visits that come without a token."""

from __future__ import annotations

from ingestion.simulator.agents import hand_off, queue
from ingestion.simulator.records import Conversation, Journey
from ingestion.simulator.timeline import PeriodOver, Timeline
from ingestion.simulator.world import BOT, FUNNEL_OF_QUERY, FUNNELS, LOGIN_SHARE, SECOND


STALE_COMPLETION_SHARE = 0.08      # journeys whose page sends a funnel.completed before any step view


def step_props(funnel: str, index: int) -> dict:
    return {"funnel": funnel, "step": FUNNELS[funnel][index - 1], "step_index": index}


class _Page:
    """One webview journey opened from a chat: its events carry the chat's phone and the
    browser's anonymous id, on the conversation's clock, or the browser's when its clock is off
    (`skew` ms, realism `browser_skew`: used as given, docs/contract.md §2.2)."""

    def __init__(self, tl: Timeline, c: Conversation, funnel: str, same_as: _Page | None = None):
        self.tl, self.c, self.funnel = tl, c, funnel
        self.steps = FUNNELS[funnel]
        self.journey = Journey(funnel)
        if same_as is not None:                  # the same page re-opened in the same browser
            self.identity, self.skew = same_as.identity, same_as.skew
        else:
            self.identity = {"channel_user_id": c.phone, "anonymous_id": tl.people.browser(c.person)}
            self.skew = _browser_skew(tl)
        self.current = None                  # the properties of the last step the user reached

    def open(self, gap_ms: int):
        """The page opens (the journey starts); a clock behind the desk's stays behind by less than
        the session's age, so every event of the page falls inside its session."""
        t = self.tl.at(self.c, gap_ms, touch=False)
        self.skew = max(self.skew, self.c.sess.started + SECOND - t)
        self._send(t, "webview.opened", {"funnel": self.funnel})
        self.c.sess.journeys.append(self.journey)

    def event(self, gap_ms: int, etype: str, props: dict) -> int:
        return self._send(self.tl.at(self.c, gap_ms, touch=False), etype, props)

    def _send(self, t: int, etype: str, props: dict) -> int:
        """The event at the desk's time t, stamped by the browser's clock; that time."""
        tl, c = self.tl, self.c
        t += self.skew
        if t >= tl.horizon:
            raise PeriodOver
        tl.touch(c, t)
        tl.out.webview_event(t, etype, props, c.cid, self.identity)
        return t

    def view_steps(self, last: int, backs: int = 0):
        """Steps 1 to `last` in order; from step 2 on, the user may go back a step: once by chance,
        or `backs` times for certain."""
        i, left = 1, backs or 1
        while i <= last:
            t = self.event(self.tl.ln(6 if i == 1 else 35, 0.8), "funnel.step_viewed", step_props(self.funnel, i))
            self.journey.views.append((t, i))
            if i >= 2 and left and (backs or self.tl.rng.random() < 0.06):
                left -= 1
                i -= 1
            else:
                i += 1
        self.current = step_props(self.funnel, last)

    def complete(self, gap_ms: int):
        self.journey.completions.append(self.event(gap_ms, "funnel.completed", {"funnel": self.funnel}))

    def exit(self, gap_ms: int, reason: str):
        self.event(gap_ms, "webview.exited", dict(self.current, reason=reason))


def webview(tl: Timeline, c: Conversation) -> str:
    """The bot sends a link to a funnel; the user completes it, escalates from it or drops off."""
    rng = tl.rng
    funnel = FUNNEL_OF_QUERY.get(c.qn) or rng.choice(tuple(FUNNELS))
    tl.out_msg(c, rng.randint(1, 3) * SECOND, BOT)                  # message with the link
    tl.webview_journeys += 1
    if tl.cases.chance("multi_funnel", 0.25):
        _detour(tl, c, funnel)
    page = _Page(tl, c, funnel)
    page.open(tl.ln(20, 0.9))
    if rng.random() < STALE_COMPLETION_SHARE:
        page.complete(tl.ln(3, 0.5))        # a page restored from an earlier visit replays its completion
    r = rng.random()
    outcome = "complete" if r < 0.55 else ("escalate" if r < 0.73 else "dropoff")
    page.view_steps(len(page.steps) if outcome == "complete" else rng.randint(1, len(page.steps)))
    if outcome == "complete":
        return _completed(tl, c, page)
    if outcome == "escalate":
        return _escalated(tl, c, page)
    return _dropped_off(tl, c, page)


def _browser_skew(tl: Timeline) -> int:
    """How far the browser's clock is off the desk's, in ms: minutes either way, or 0."""
    if not tl.cases.chance("browser_skew", 0.3):
        return 0
    tl.cases.count("browser_skew")
    return tl.cases.rng.choice((-1, 1)) * tl.cases.rng.randint(30, 240) * SECOND


def _detour(tl: Timeline, c: Conversation, funnel: str):
    """Before the funnel it was sent, the user wanders into another one, going back more than
    once, leaves it, and re-opens it later in the same browser: several funnels and a re-opened
    webview in one session."""
    rng = tl.cases.rng
    first = _Page(tl, c, rng.choice([f for f in FUNNELS if f != funnel]))
    first.open(tl.ln(20, 0.9))
    first.view_steps(len(first.steps), backs=2)
    first.exit(tl.ln(20, 0.8), "hidden")
    again = _Page(tl, c, first.funnel, same_as=first)
    again.open(tl.ln(120, 0.8))
    again.view_steps(rng.randint(2, len(again.steps)), backs=1)
    if rng.random() < 0.5 and again.current["step_index"] == len(again.steps):
        again.complete(tl.ln(15, 0.7))
    again.exit(tl.ln(10, 0.8), "navigated")
    tl.cases.count("multi_funnel")


def _completed(tl: Timeline, c: Conversation, page: _Page) -> str:
    rng = tl.rng
    page.complete(tl.ln(15, 0.7))
    exit_late = rng.random() < 0.5
    if not exit_late:
        page.exit(tl.ln(5, 0.7), rng.choice(("navigated", "closed")))
    tl.out_msg(c, rng.randint(1, 4) * SECOND, BOT)                 # confirmation
    r = rng.random()
    if r < 0.8:
        tl.state(c, "resolved", tl.ln(30, 0.8), BOT, "funnel_completed")
    if exit_late:                                  # after a close it belongs to the ended session
        page.exit(tl.ln(8, 0.7), "closed")
    if r < 0.8:
        return tl.after_resolved(c)
    if r < 0.9:
        return "abandoned"
    tl.user_msg(c, tl.ln(60, 1.0))
    return hand_off(tl, c, tl.rng.randint(1, 4) * SECOND)


def _escalated(tl: Timeline, c: Conversation, page: _Page) -> str:
    page.event(tl.ln(20, 0.8), "escalation.requested", page.current)
    page.journey.escalated = page.current["step_index"]
    tl.state(c, "pending_agent", tl.rng.randint(1, 3) * SECOND, BOT, "webview_escalation")
    if tl.rng.random() < 0.9:
        page.exit(tl.rng.randint(1, 8) * SECOND, "navigated")
    return queue(tl, c)


def _dropped_off(tl: Timeline, c: Conversation, page: _Page) -> str:
    rng = tl.rng
    if rng.random() < 0.85:
        page.exit(tl.ln(30, 1.0), rng.choice(("closed", "hidden", "closed")))
    r = rng.random()
    if r < 0.45:
        return "abandoned"                         # last activity may be the webview exit
    if r < 0.7:
        tl.out_msg(c, tl.ln(900, 0.5), BOT)        # reminder, then silence
        return "abandoned"
    tl.user_msg(c, tl.ln(90, 1.0))
    tl.out_msg(c, rng.randint(1, 3) * SECOND, BOT)
    if rng.random() < 0.5:
        return tl.resolve(c, tl.ln(60, 1.0), BOT, "resolved_by_bot")
    return hand_off(tl, c, tl.rng.randint(1, 4) * SECOND)


# --- visits without a token ------------------------------------------------------------

def unlinked_visit(tl: Timeline, t: int):
    """A webview visit without a handshake token: no conversation, anonymous only; a few log in."""
    anon, logs_in = _visitor(tl)
    for etype, props in _unlinked_pages(tl):
        t += max(SECOND, tl.ln(25, 0.8))
        if t >= tl.horizon:
            return
        tl.out.webview_event(t, etype, props, None, {"anonymous_id": anon})
    if logs_in and t + SECOND < tl.horizon:      # a site login: a person known by user id only
        tl.out.identify(t + SECOND, {"user_id": tl.people.new_user_id(), "anonymous_id": anon})


def _visitor(tl: Timeline) -> tuple[str, bool]:
    """The browser's anonymous id (sometimes a known person's) and whether the visitor logs in."""
    rng, people = tl.rng, tl.people
    if people.persons and rng.random() < 0.3:
        return rng.choice(rng.choice(people.persons).anons), False
    return people.new_anon(), rng.random() < LOGIN_SHARE


def _unlinked_pages(tl: Timeline) -> list[tuple[str, dict]]:
    """(type, properties) of the visit's events: a funnel walked up to some step, then closed."""
    rng = tl.rng
    funnel = rng.choice(tuple(FUNNELS))
    last = rng.randint(1, len(FUNNELS[funnel]))
    pages = [("webview.opened", {"funnel": funnel})]
    pages += [("funnel.step_viewed", step_props(funnel, i)) for i in range(1, last + 1)]
    if last == len(FUNNELS[funnel]) and rng.random() < 0.5:
        pages.append(("funnel.completed", {"funnel": funnel}))
    pages.append(("webview.exited", dict(step_props(funnel, last), reason="closed")))
    return pages

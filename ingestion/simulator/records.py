"""What the simulator did, recorded in its own terms while it played the journeys out.

The records are facts of the run (which states a session walked through and when, whom it
assigned, which messages went out, which identifiers one event put side by side), not
conclusions drawn from the emitted events.
"""

from __future__ import annotations


class Person:
    """Someone who chats: their phones, the browsers (anonymous ids) their journeys run in."""

    __slots__ = ("phones", "anons", "channel", "user_id", "webviews")

    def __init__(self, phone: str, anon: str, channel: str):
        self.phones, self.anons, self.channel = [phone], [anon], channel
        self.user_id = None
        self.webviews = 0


class Journey:
    """One webview journey: views (ms, step_index) in order, the ms of each funnel.completed in
    order (a stale one may come before the first view), the escalated step_index."""

    __slots__ = ("funnel", "views", "completions", "escalated")

    def __init__(self, funnel: str):
        self.funnel = funnel
        self.views = []
        self.completions = []
        self.escalated = None


class Session:
    """What the simulator did in one session, each list in time order (times in ms)."""

    __slots__ = ("sid", "cid", "phone", "channel", "started", "last", "visits", "received",
                 "replies", "assigns", "transfers", "journeys", "csat", "dept", "qn", "close_assigns")

    def __init__(self, sid: str, cid: str, phone: str, channel: str | None, t: int,
                 first_state: str = "inbound_queue"):
        self.sid, self.cid, self.phone, self.channel = sid, cid, phone, channel
        self.started = self.last = t             # first and latest activity
        self.visits = [(first_state, t)]         # (state, entered ms); implicit unless a state change opened it
        self.received = []                       # ms of each message.received
        self.replies = []                        # (ms, agent) of each human message.sent
        self.assigns = []                        # (ms, agent, team)
        self.transfers = []                      # (ms, from_team, to_team)
        self.journeys = []
        self.csat = self.dept = self.qn = None   # the last score, department and query nature
        self.close_assigns = None                # assignments before the resolved entry in event order

    @property
    def state(self) -> str:
        return self.visits[-1][0]


class Conversation:
    """A chat thread: its clock, the session open in it and the topic of that session. `latest` is
    the latest time any of its events carries, a skewed browser's included."""

    __slots__ = ("cid", "person", "phone", "channel", "t", "latest", "sess", "ordinal", "dept", "qn")

    def __init__(self, cid: str, person: Person, phone: str, channel: str):
        self.cid, self.person, self.phone, self.channel = cid, person, phone, channel
        self.t = self.latest = 0
        self.sess = None
        self.ordinal = 0
        self.dept = self.qn = None


class IdentityLinks:
    """The identifiers the events put side by side (one event's identity block and its
    conversation, as ("kind", value) nodes) and the first and last ms each was seen."""

    __slots__ = ("seen", "links")

    def __init__(self):
        self.seen: dict[tuple, list[int]] = {}
        self.links: set[tuple[tuple, tuple]] = set()

    def saw(self, ms: int, nodes: list[tuple]):
        for node in nodes:
            span = self.seen.setdefault(node, [ms, ms])
            span[0], span[1] = min(span[0], ms), max(span[1], ms)
        self.links.update((nodes[0], node) for node in nodes[1:])

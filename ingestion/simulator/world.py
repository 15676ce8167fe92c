"""The simulated world: channels, topics, teams and funnels, the shape of the traffic, and time.

Times are whole milliseconds since the Unix epoch (UTC); `to_ms` and `from_ms` convert.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta, timezone

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
SECOND = 1000                  # in ms
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

CHANNELS = (("whatsapp", 0.70), ("messenger", 0.12), ("webchat", 0.12), ("sms", 0.06))
DEPARTMENTS = (("billing", 0.34), ("technical", 0.30), ("sales", 0.16), ("general", 0.20))
QUERY_NATURES = {
    "billing": ("invoice_question", "refund", "payment_failed", "address_change"),
    "technical": ("outage", "login_problem", "device_setup", "appointment"),
    "sales": ("new_contract", "upgrade", "appointment"),
    "general": ("address_change", "complaint", "other", "appointment"),
}
ALL_QUERY_NATURES = tuple(sorted({q for qs in QUERY_NATURES.values() for q in qs}))
TEAM_OF_DEPARTMENT = {"billing": "billing", "technical": "tech", "sales": "general", "general": "general"}
DEPARTMENT_OF_TEAM = {"billing": "billing", "tech": "technical", "general": "general"}
TEAMS = ("billing", "tech", "general")
AGENTS = {team: tuple(f"agent-{5 * i + j + 1:02d}" for j in range(5)) for i, team in enumerate(TEAMS)}
TEAM_OF_AGENT = {a: team for team, agents in AGENTS.items() for a in agents}
FUNNELS = {
    "change_address": ("enter_postcode", "confirm_address", "choose_move_date"),
    "refund_request": ("select_order", "refund_reason", "bank_details", "review"),
    "book_appointment": ("choose_service", "pick_slot", "confirm"),
}
FUNNEL_OF_QUERY = {"address_change": "change_address", "refund": "refund_request",
                   "appointment": "book_appointment", "payment_failed": "refund_request",
                   "device_setup": "book_appointment"}
# Attribute values from the wild (realism `odd_attributes`): accents, other scripts, emoji (four
# bytes in UTF-8), quotes and a backslash, and one as long as the contract takes (256 characters,
# far more bytes).
ODD_QUERY_NATURES = (
    "adreswijziging – straße/Çà",
    'réclamation "urgent" \\ «facture»',
    "返金リクエスト（至急）",
    ("🚚 levering vertraagd " + "ü" * 256)[:256],
)
BOT = {"kind": "bot", "id": "bot-1"}
ROUTER = {"kind": "system", "id": "router"}
SURVEY = {"kind": "system", "id": "survey"}
USER = {"kind": "user"}

# Share of session starts per UTC hour (business hours in the Netherlands peak).
HOUR_WEIGHTS = (0.12, 0.08, 0.06, 0.05, 0.07, 0.15, 0.35, 0.75, 1.25, 1.6, 1.7, 1.6,
                1.4, 1.5, 1.6, 1.5, 1.3, 1.15, 1.05, 1.0, 0.9, 0.7, 0.45, 0.25)
WEEKDAY_WEIGHTS = (1.15, 1.1, 1.05, 1.05, 1.0, 0.6, 0.45)   # Monday first

RETURN_SHARE = 0.18          # conversations opened by a person seen before
SECOND_PHONE_SHARE = 0.14    # of returns of a one-phone person: about 3 % of persons end with two phones
NEW_BROWSER_SHARE = 0.4      # of a one-browser person's later webview journeys
LOGIN_SHARE = 0.10           # of token-less visitors on a fresh browser who log in on the site


def human(agent: str) -> dict:
    """The actor block of a human agent."""
    return {"kind": "human", "id": agent}


def to_ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else EPOCH + timedelta(milliseconds=ms)


def weekday(ms: int) -> int:
    """0 = Monday (1970-01-01 was a Thursday)."""
    return (ms // DAY + 3) % 7


def agents_online(ms: int) -> bool:
    """Shifts: 7-21 h UTC on weekdays, 8-17 h at the weekend."""
    hour = ms % DAY // HOUR
    return 7 <= hour < 21 if weekday(ms) < 5 else 8 <= hour < 17


def long_note(rng: random.Random) -> str:
    """A free-text attribute of a few thousand characters, non-ASCII throughout."""
    words = ("Grüße", "naïve", "café", "ключ", "東京", "✓", "😀", "niño", "øre", "quote\"d")
    return " ".join(rng.choice(words) for _ in range(rng.randint(300, 600)))


def lognormal_ms(rng: random.Random, median_s: float, sigma: float) -> int:
    """A lognormal duration in ms with the given median (seconds)."""
    return int(median_s * SECOND * math.exp(sigma * rng.gauss(0.0, 1.0)))


def pick(rng: random.Random, weighted):
    """One value of ((value, weight), ...) whose weights add up to 1."""
    r = rng.random()
    acc = 0.0
    for value, w in weighted:
        acc += w
        if r < acc:
            return value
    return weighted[-1][0]

"""Who chats: new and returning persons, their phones, browsers and logins."""

from __future__ import annotations

import random

from ingestion.simulator.records import Person
from ingestion.simulator.world import CHANNELS, NEW_BROWSER_SHARE, RETURN_SHARE, SECOND_PHONE_SHARE, pick


class People:
    """Every person so far, drawing from the journeys' random stream."""

    def __init__(self, rng: random.Random, prefix: str):
        self.rng = rng
        self.prefix = prefix
        self.persons: list[Person] = []
        self._phones: set[str] = set()
        self._users = 0

    def new_phone(self) -> str:
        while True:
            phone = "%s+316%08d" % (self.prefix, self.rng.randrange(10 ** 8))
            if phone not in self._phones:
                self._phones.add(phone)
                return phone

    def new_anon(self) -> str:
        return "%sanon-%012x" % (self.prefix, self.rng.getrandbits(48))

    def new_user_id(self) -> str:
        # Sequential: two persons sharing a login by chance would be one person to the data.
        self._users += 1
        return "%suser-%06d" % (self.prefix, self._users)

    def new_person(self, channel: str) -> Person:
        person = Person(self.new_phone(), self.new_anon(), channel)
        self.persons.append(person)
        return person

    def login(self, p: Person) -> str:
        if p.user_id is None:
            p.user_id = self.new_user_id()
        return p.user_id

    def caller(self) -> tuple[Person, str, str]:
        """Who opens the next conversation, from which phone, on which channel."""
        rng = self.rng
        if self.persons and rng.random() < RETURN_SHARE:
            p = rng.choice(self.persons)                          # a returning person, new thread
            if len(p.phones) == 1 and rng.random() < SECOND_PHONE_SHARE:
                p.phones.append(self.new_phone())                # a second number on another channel
                return p, p.phones[-1], "whatsapp" if p.channel == "sms" else "sms"
            return p, rng.choice(p.phones), pick(rng, CHANNELS)
        channel = pick(rng, CHANNELS)
        p = self.new_person(channel)
        return p, p.phones[0], channel

    def browser(self, p: Person) -> str:
        """The anonymous id a webview journey runs under; some come back on a second browser."""
        p.webviews += 1
        if p.webviews > 1 and len(p.anons) == 1 and self.rng.random() < NEW_BROWSER_SHARE:
            p.anons.append(self.new_anon())
            return p.anons[-1]
        return self.rng.choice(p.anons)

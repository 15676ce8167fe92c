"""A real SMTP server on loopback (aiosmtpd) that requires a login, for the report's delivery tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from ingestion.settings import SmtpSettings
from tests.support.collector_server import free_port

PASSWORD = "s3cret-" + secrets.token_hex(8)
SENDER, RECIPIENTS = "journey@example.org", ("ops@example.org", "cx@example.org")


class Inbox:
    """aiosmtpd handler: keeps every envelope and every login it accepted."""

    def __init__(self):
        self.envelopes = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password.decode() == PASSWORD)


@contextmanager
def running_smtp_server() -> Iterator[tuple[Inbox, SmtpSettings]]:
    """The running server's inbox and the settings that reach it (tests/serving/conftest.py: `smtp_server`)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=inbox.authenticate,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, SmtpSettings(host="127.0.0.1", port=controller.port, user="reporter", password=PASSWORD,
                                  sender=SENDER, recipients=RECIPIENTS)
    finally:
        controller.stop()


def smtp_env(smtp: SmtpSettings) -> dict[str, str]:
    """The same relay as the environment `journey` reads."""
    return {"JOURNEY_SMTP_HOST": smtp.host, "JOURNEY_SMTP_PORT": str(smtp.port), "JOURNEY_SMTP_USER": smtp.user,
            "JOURNEY_SMTP_PASSWORD": smtp.password, "JOURNEY_REPORT_FROM": smtp.sender,
            "JOURNEY_REPORT_TO": ",".join(smtp.recipients)}

"""Mails a rendered report with the standard library: no vendor SDK to pin,
and any relay (Postfix, Exchange, SES/SendGrid SMTP endpoints) accepts it.
"""

from __future__ import annotations

import logging
import os
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage

from orchestration.defs.report.render import ReportFiles, content_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)   # never printed, never logged
    starttls: bool = False
    sender: str | None = None
    recipients: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "SmtpSettings":
        env = os.environ if env is None else env
        host = env.get("JOURNEY_SMTP_HOST") or None
        smtp = cls(
            host=host,
            port=int(env.get("JOURNEY_SMTP_PORT") or 25),
            user=env.get("JOURNEY_SMTP_USER") or None,
            password=env.get("JOURNEY_SMTP_PASSWORD") or None,
            starttls=env.get("JOURNEY_SMTP_STARTTLS", "").lower() in {"1", "true", "yes"},
            sender=env.get("JOURNEY_REPORT_FROM") or None,
            recipients=tuple(a.strip() for a in env.get("JOURNEY_REPORT_TO", "").split(",") if a.strip()),
        )
        # A host without addresses is a half-done setup: say so now, not at 06:00.
        if host and not (smtp.sender and smtp.recipients):
            raise ValueError("JOURNEY_SMTP_HOST is set: JOURNEY_REPORT_FROM and JOURNEY_REPORT_TO are needed too")
        return smtp


def build_message(files: ReportFiles, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """Text and HTML alternatives; the HTML's charts travel inline by Content-ID
    (mail clients block data: URIs), and again as attachments with the CSVs."""
    message = EmailMessage()
    message["Subject"] = files.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(files.text)
    message.add_alternative(files.email_html, subtype="html")
    html_part = message.get_payload()[-1]
    for image in files.images:
        html_part.add_related(image.read_bytes(), "image", "png", cid=f"<{content_id(image)}>")
    for image in files.images:
        message.add_attachment(image.read_bytes(), "image", "png", filename=image.name)
    for table in files.csvs:
        message.add_attachment(table.read_bytes(), "text", "csv", filename=table.name)
    return message


def send_report(files: ReportFiles, smtp: SmtpSettings) -> bool:
    """True once the relay accepted the message; False when no relay is configured."""
    if not smtp.host:
        log.info("Report rendered in %s; email delivery skipped: JOURNEY_SMTP_HOST is not set.", files.folder)
        return False
    message = build_message(files, smtp.sender, smtp.recipients)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=60) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.user:
            client.login(smtp.user, smtp.password or "")
        client.send_message(message)
    log.info("Report mailed to %s via %s:%s%s.", ", ".join(smtp.recipients), smtp.host, smtp.port,
             f" as {smtp.user}" if smtp.user else "")
    return True

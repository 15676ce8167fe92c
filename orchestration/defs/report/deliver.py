"""Mails a rendered report with the standard library: no vendor SDK to pin,
and any relay (Postfix, Exchange, SES/SendGrid SMTP endpoints) accepts it.

The relay is the settings' `smtp` section (`ingestion.settings.SmtpSettings`,
JOURNEY_SMTP_* and JOURNEY_REPORT_*), read and checked at start-up.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from ingestion.settings import SmtpSettings
from orchestration.defs.report.render import ReportFiles, content_id

log = logging.getLogger(__name__)


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

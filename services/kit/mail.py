"""Mail to people: sent over SMTP with aiosmtplib, or, where no SMTP server is configured
(the embedded default on one machine), written as .eml files to a folder the operator
reads, so that nothing waiting for a confirmation is stuck on a laptop.

A service keeps what it must mail in its own table and sends it from a worker: a mail
is never sent inside the transaction that asks for it, so a slow or absent server never
holds a request, and a change that did not commit is never mailed.
"""

import asyncio
import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import aiosmtplib
import structlog
from pydantic import BaseModel, SecretStr

from services.kit.db import utcnow

log = structlog.get_logger()


class MailSettings(BaseModel):
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    # True requires STARTTLS; False uses it when the server offers it.
    smtp_tls: bool = False
    sender: str = "Assent <no-reply@assent.invalid>"
    # Where mail goes with no SMTP host.
    folder: Path = Path("var/mail")
    timeout_seconds: float = 15.0


class Mailing(BaseModel):
    """The mail settings of a service that sends mail, under its own prefix
    (`ASSENT_<COMPONENT>_SMTP_HOST`...): each process holds only its own credentials."""

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_tls: bool = False
    mail_sender: str = "Assent <no-reply@assent.invalid>"
    mail_folder: Path = Path("var/mail")
    # Where the links in its mails lead.
    portal_url: str = "http://127.0.0.1:8000/portal/"

    def mail(self) -> MailSettings:
        return MailSettings(
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            smtp_username=self.smtp_username,
            smtp_password=self.smtp_password,
            smtp_tls=self.smtp_tls,
            sender=self.mail_sender,
            folder=self.mail_folder,
        )


def retry_delay(attempts: int) -> timedelta:
    """How long a mail that could not be sent waits before it is tried again: 30 s,
    doubling with each attempt, at most an hour."""
    return min(timedelta(seconds=30 * 2 ** min(attempts, 10)), timedelta(hours=1))


class MailNotSent(Exception):
    """The server refused the mail or could not be reached; it is tried again later."""


class Mailer:
    def __init__(self, settings: MailSettings) -> None:
        self._settings = settings

    def message(self, to: str, subject: str, body: str) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._settings.sender
        mail["To"] = to
        mail["Subject"] = subject
        mail["Date"] = format_datetime(utcnow())
        mail["Message-ID"] = make_msgid(domain="assent.invalid")
        mail.set_content(body)
        return mail

    async def send(self, mail: EmailMessage) -> Path | None:
        """Sends the mail; with no SMTP host, writes it instead and answers its file."""
        settings = self._settings
        if not settings.smtp_host:
            return await asyncio.to_thread(self._write, mail)
        try:
            await aiosmtplib.send(
                mail,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password.get_secret_value() or None,
                start_tls=True if settings.smtp_tls else None,
                timeout=settings.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailNotSent(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        return None

    def _write(self, mail: EmailMessage) -> Path:
        folder = self._settings.folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(mail))
        log.info("mail.written", path=str(path))
        return path

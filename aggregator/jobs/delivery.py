"""E-mail delivery of the weekly digest over SMTP (smtp:// with optional STARTTLS, or smtps://).

Configured by two environment variables::

    AGGREGATOR_SMTP_URL=smtp://user:pass@mail.example.org:587?starttls=1&from=digest@example.org
    AGGREGATOR_SMTP_TO=alice@example.org, bob@example.org

The password is never logged or put in an error message: use :meth:`SmtpSettings.secrets` to
register it with :func:`aggregator.logconfig.configure_logging`.
"""

from __future__ import annotations

import ipaddress
import logging
import mimetypes
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from aggregator.errors import AggregatorError, ConfigError
from aggregator.logconfig import log_event

SMTP_URL_VAR = "AGGREGATOR_SMTP_URL"
SMTP_TO_VAR = "AGGREGATOR_SMTP_TO"
DEFAULT_TIMEOUT_SECONDS = 30.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_KNOWN_PARAMS = {"starttls", "from", "timeout"}
# urllib's URL errors that quote nothing of the URL (the others quote the port text).
_SAFE_URL_ERRORS = {"Port out of range 0-65535", "Invalid IPv6 URL"}
_ENCODE_HINT = (
    "write / ? # @ : % in the user name or password as %2F %3F %23 %40 %3A %25 "
    "(the URL is not shown: it may hold the password)"
)


class DeliveryError(AggregatorError):
    """The digest could not be sent; the message names the SMTP server and the reason."""


@dataclass(frozen=True)
class Attachment:
    """A file attached to the digest mail (e.g. the RIS export)."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"

    @classmethod
    def from_path(cls, path: Path, mime_type: str | None = None) -> Attachment:
        """Read ``path``; the MIME type is guessed from its suffix unless given."""
        guessed = mime_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise DeliveryError(f"cannot read attachment {path}: {exc.strerror or exc}") from None
        return cls(filename=path.name, content=content, mime_type=guessed)


@dataclass(frozen=True)
class DeliveryReceipt:
    """What the server accepted: the Message-ID and which recipients it refused (if any)."""

    message_id: str
    accepted: tuple[str, ...]
    refused: tuple[str, ...]


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never printed
    use_ssl: bool = False  # smtps:// (implicit TLS)
    starttls: bool = False
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def server(self) -> str:
        """``host:port`` as named in log lines and errors."""
        return f"{self.host}:{self.port}"

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in logs (pass to ``configure_logging``)."""
        return (self.password,) if self.password else ()

    @classmethod
    def from_url(cls, url: str, recipients: Sequence[str] = ()) -> SmtpSettings:
        """Parse ``smtp[s]://[user[:pass]@]host[:port][?starttls=1&from=addr&timeout=30]``.

        No error quotes the URL or a piece of it that could be the password: a URL whose user
        name or password holds ``/ ? #`` unencoded (read as it stands, part of the password
        would become the host, port, path or a parameter) is refused as a whole, without
        quoting it; parameters are quoted only once the URL is known to be well formed.
        """
        try:
            parts = urlsplit(url.strip())
            port_value = parts.port
        except ValueError as exc:
            if str(exc) in _SAFE_URL_ERRORS:
                raise ConfigError(f"{SMTP_URL_VAR} is not a valid URL ({exc})") from None
            # urllib's other texts quote the port, which may be a piece of the password.
            raise ConfigError(f"{SMTP_URL_VAR} is not a valid URL; {_ENCODE_HINT}") from None
        query = parse_qs(parts.query, keep_blank_values=True)
        if _userinfo_misplaced(parts.path, parts.fragment, query):
            raise ConfigError(f"{SMTP_URL_VAR} is not a valid URL; {_ENCODE_HINT}")
        scheme = parts.scheme.lower()
        if scheme not in {"smtp", "smtps"}:
            raise ConfigError(
                f"{SMTP_URL_VAR} must start with smtp:// or smtps://; got {scheme or 'no'} scheme"
            )
        host = parts.hostname
        if not host:
            raise ConfigError(f"{SMTP_URL_VAR} has no host name")
        unknown = sorted(set(query) - _KNOWN_PARAMS)
        if unknown:
            raise ConfigError(
                f"{SMTP_URL_VAR} has unknown parameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_KNOWN_PARAMS))}"
            )

        def param(name: str) -> str | None:
            values = query.get(name)
            return values[-1].strip() if values else None

        starttls_text = (param("starttls") or "0").lower()
        if starttls_text not in _TRUE | _FALSE:
            raise ConfigError(f"{SMTP_URL_VAR}: starttls must be 1 or 0; got {starttls_text!r}")
        starttls = starttls_text in _TRUE
        use_ssl = scheme == "smtps"
        if use_ssl and starttls:
            raise ConfigError(f"{SMTP_URL_VAR}: smtps:// already uses TLS; drop starttls=1")

        timeout = DEFAULT_TIMEOUT_SECONDS
        timeout_text = param("timeout")
        if timeout_text is not None:
            try:
                timeout = float(timeout_text)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout <= 600:
                raise ConfigError(
                    f"{SMTP_URL_VAR}: timeout must be seconds between 0 and 600; "
                    f"got {timeout_text!r}"
                )

        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        sender = param("from") or (username if username and "@" in username else None)
        if not sender:
            raise ConfigError(f"{SMTP_URL_VAR} needs a sender: add ?from=digest@example.org")
        _check_address(sender, f"{SMTP_URL_VAR} from=")

        if password and not (use_ssl or starttls) and not _is_loopback(host):
            # A password in clear text over the network is never acceptable.
            raise ConfigError(
                f"{SMTP_URL_VAR}: refusing to send a password unencrypted to {host}; "
                "use smtps:// or add starttls=1"
            )
        port = port_value or (465 if use_ssl else 587 if starttls else 25)
        return cls(
            host=host,
            port=port,
            sender=sender,
            recipients=tuple(recipients),
            username=username,
            password=password,
            use_ssl=use_ssl,
            starttls=starttls,
            timeout=timeout,
        )


def parse_recipients(value: str) -> tuple[str, ...]:
    """Split ``AGGREGATOR_SMTP_TO`` (comma-separated) and check each address."""
    recipients = tuple(item.strip() for item in value.split(",") if item.strip())
    if not recipients:
        raise ConfigError(f"{SMTP_TO_VAR} lists no recipient addresses")
    for address in recipients:
        _check_address(address, SMTP_TO_VAR)
    return recipients


def load_smtp_settings(environ: Mapping[str, str]) -> SmtpSettings | None:
    """Settings from ``AGGREGATOR_SMTP_URL``/``_TO``; ``None`` when mail delivery is not set up."""
    url = environ.get(SMTP_URL_VAR, "").strip()
    if not url:
        return None
    to_value = environ.get(SMTP_TO_VAR, "").strip()
    if not to_value:
        raise ConfigError(f"{SMTP_URL_VAR} is set but {SMTP_TO_VAR} (recipients) is empty")
    return SmtpSettings.from_url(url, parse_recipients(to_value))


def build_message(
    settings: SmtpSettings,
    subject: str,
    text_body: str,
    html_body: str,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """A multipart/alternative (text + HTML, UTF-8) message; multipart/mixed with attachments."""
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())  # no header injection via newlines
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = settings.sender.rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(idstring="digest", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # tells auto-responders not to reply
    message.set_content(text_body, subtype="plain", charset="utf-8")
    message.add_alternative(html_body, subtype="html", charset="utf-8")
    for attachment in attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return message


def send_digest(
    settings: SmtpSettings,
    subject: str,
    text_body: str,
    html_body: str,
    *,
    attachments: Sequence[Attachment] = (),
    ssl_context: ssl.SSLContext | None = None,
    logger: logging.Logger | None = None,
) -> DeliveryReceipt:
    """Send the digest to ``settings.recipients``; raise :class:`DeliveryError` on failure.

    ``ssl_context`` defaults to the system trust store with hostname checking.
    """
    log = logger or logging.getLogger("aggregator.jobs.delivery")
    if not settings.recipients:
        raise DeliveryError(f"no recipients for the digest mail via {settings.server}")
    message = build_message(settings, subject, text_body, html_body, attachments)
    context = ssl_context or ssl.create_default_context()
    try:
        refused = _transmit(settings, message, context)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"SMTP server {settings.server} rejected the login for user "
            f"{settings.username!r}: {_smtp_reason(exc, settings)}"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(
            f"SMTP server {settings.server} refused every recipient: "
            f"{', '.join(sorted(exc.recipients))}"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError and timeouts are OSErrors
        raise DeliveryError(
            f"could not send the digest via SMTP server {settings.server}: "
            f"{_smtp_reason(exc, settings)}"
        ) from None
    accepted = tuple(r for r in settings.recipients if r not in refused)
    receipt = DeliveryReceipt(
        message_id=str(message["Message-ID"]), accepted=accepted, refused=tuple(sorted(refused))
    )
    log_event(
        log,
        "delivery.sent",
        server=settings.server,
        accepted=len(receipt.accepted),
        refused=",".join(receipt.refused) or None,
        message_id=receipt.message_id,
    )
    return receipt


def _transmit(
    settings: SmtpSettings, message: EmailMessage, context: ssl.SSLContext
) -> dict[str, tuple[int, bytes]]:
    smtp: smtplib.SMTP
    if settings.use_ssl:
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with smtp:
        smtp.ehlo()
        if settings.starttls:
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.username and settings.password is not None:
            smtp.login(settings.username, settings.password)
        refused = smtp.send_message(
            message, from_addr=settings.sender, to_addrs=list(settings.recipients)
        )
    return dict(refused)


def _smtp_reason(exc: BaseException, settings: SmtpSettings) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        reason = f"{exc.smtp_code} {text}"
    elif isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        # smtplib wraps a read timeout in SMTPServerDisconnected; name the real cause.
        reason = f"timed out after {settings.timeout:g}s"
    elif isinstance(exc, ConnectionRefusedError):
        reason = "connection refused"
    else:
        reason = str(exc) or type(exc).__name__
    reason = " ".join(reason.split())
    if settings.password:
        reason = reason.replace(settings.password, "***")
    return reason


def _check_address(address: str, where: str) -> None:
    _, parsed = parseaddr(address)
    local, at, domain = parsed.partition("@")
    if not (local and at and domain) or any(ch.isspace() for ch in parsed):
        raise ConfigError(f"{where}: {address!r} is not an e-mail address")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _userinfo_misplaced(path: str, fragment: str, query: Mapping[str, list[str]]) -> bool:
    """Whether a user name or password with an unencoded ``/``, ``?`` or ``#`` spilled into the
    path, fragment or query: an SMTP URL has no path or fragment, and its ``@`` after the host
    can only be the one of ``from=``."""
    if path not in ("", "/") or fragment:
        return True
    for name, values in query.items():
        if "@" in name:
            return True
        for value in values:
            if name == "from":
                if value.count("@") > 1 or any(ch in value for ch in "/?#"):
                    return True
            elif "@" in value:
                return True
    return False

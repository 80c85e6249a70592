"""SMTP settings parsing and digest delivery against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import logging
import shutil
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from aggregator.errors import AggregatorError, ConfigError
from aggregator.jobs.delivery import (
    Attachment,
    DeliveryError,
    DeliveryReceipt,
    SmtpSettings,
    load_smtp_settings,
    send_digest,
)
from tests.plugins.services import require_service
from tests.plugins.smtp import (
    PASSWORD,
    USER,
    Received,
    SmtpServer,
    StoringHandler,
    check_login,
    free_port,
)

TEXT = "Magnesium-Glycinat: 2 neue Studien — Übersicht (synthetic)\n"
HTML = "<p>Magnesium-Glycinat: <b>2</b> neue Studien — Übersicht (synthetic)</p>\n"
SUBJECT = "Wöchentlicher Digest: Magnesium & Migräne"


# -- settings ------------------------------------------------------------------------------


def test_from_url_full() -> None:
    settings = SmtpSettings.from_url(
        "smtp://digest-bot:s3cr3t%40x@mail.example.org:2525?starttls=1&from=digest@example.org"
        "&timeout=12.5",
        recipients=("a@example.org",),
    )
    assert settings == SmtpSettings(
        host="mail.example.org",
        port=2525,
        sender="digest@example.org",
        recipients=("a@example.org",),
        username="digest-bot",
        password="s3cr3t@x",
        use_ssl=False,
        starttls=True,
        timeout=12.5,
    )
    assert "s3cr3t" not in repr(settings)
    assert settings.secrets() == ("s3cr3t@x",)
    assert settings.server == "mail.example.org:2525"


@pytest.mark.parametrize(
    ("url", "expected_port", "use_ssl", "starttls"),
    [
        ("smtps://u%40example.org:pw@mail.example.org", 465, True, False),
        ("smtp://u%40example.org:pw@mail.example.org?starttls=yes", 587, False, True),
        ("smtp://127.0.0.1?from=x@example.org", 25, False, False),
    ],
)
def test_from_url_default_ports(
    url: str, expected_port: int, use_ssl: bool, starttls: bool
) -> None:
    settings = SmtpSettings.from_url(url)
    assert (settings.port, settings.use_ssl, settings.starttls) == (
        expected_port,
        use_ssl,
        starttls,
    )


def test_sender_defaults_to_an_email_username() -> None:
    settings = SmtpSettings.from_url("smtps://bot%40example.org:pw@mail.example.org")
    assert (settings.username, settings.sender) == ("bot@example.org", "bot@example.org")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://mail.example.org",
            "AGGREGATOR_SMTP_URL must start with smtp:// or smtps://; got http scheme",
        ),
        ("smtp://?from=a@b.org", "AGGREGATOR_SMTP_URL has no host name"),
        (
            "smtp://mail.example.org",
            "AGGREGATOR_SMTP_URL needs a sender: add ?from=digest@example.org",
        ),
        (
            "smtp://mail.example.org?from=nobody",
            "AGGREGATOR_SMTP_URL from=: 'nobody' is not an e-mail address",
        ),
        (
            "smtp://mail.example.org?from=a@b.org&starttls=maybe",
            "AGGREGATOR_SMTP_URL: starttls must be 1 or 0; got 'maybe'",
        ),
        (
            "smtps://mail.example.org?from=a@b.org&starttls=1",
            "AGGREGATOR_SMTP_URL: smtps:// already uses TLS; drop starttls=1",
        ),
        (
            "smtp://mail.example.org?from=a@b.org&tls=1",
            "AGGREGATOR_SMTP_URL has unknown parameter(s) tls; known: from, starttls, timeout",
        ),
        (
            "smtp://mail.example.org?from=a@b.org&timeout=soon",
            "AGGREGATOR_SMTP_URL: timeout must be seconds between 0 and 600; got 'soon'",
        ),
        (
            "smtp://mail.example.org:99999?from=a@b.org",
            "AGGREGATOR_SMTP_URL is not a valid URL (Port out of range 0-65535)",
        ),
        (
            "smtp://u:topsecret@mail.example.org?from=a@b.org",
            "AGGREGATOR_SMTP_URL: refusing to send a password unencrypted to mail.example.org; "
            "use smtps:// or add starttls=1",
        ),
        (
            "ftp://u:topsecret@mail.example.org",
            "AGGREGATOR_SMTP_URL must start with smtp:// or smtps://; got ftp scheme",
        ),
    ],
)
def test_bad_url_is_a_one_line_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        SmtpSettings.from_url(url)
    assert str(excinfo.value) == message
    assert "topsecret" not in str(excinfo.value)


def test_load_smtp_settings_from_environment() -> None:
    assert load_smtp_settings({}) is None
    assert load_smtp_settings({"AGGREGATOR_SMTP_URL": "  "}) is None
    settings = load_smtp_settings(
        {
            "AGGREGATOR_SMTP_URL": "smtps://bot:pw@mail.example.org?from=bot@example.org",
            "AGGREGATOR_SMTP_TO": " alice@example.org, Bob <bob@example.org> ,",
        }
    )
    assert settings is not None
    assert settings.recipients == ("alice@example.org", "Bob <bob@example.org>")


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("", "AGGREGATOR_SMTP_URL is set but AGGREGATOR_SMTP_TO (recipients) is empty"),
        (" , ", "AGGREGATOR_SMTP_TO lists no recipient addresses"),
        ("alice@example.org, bob", "AGGREGATOR_SMTP_TO: 'bob' is not an e-mail address"),
    ],
)
def test_load_smtp_settings_rejects_bad_recipients(to: str, message: str) -> None:
    environ = {
        "AGGREGATOR_SMTP_URL": "smtp://127.0.0.1?from=bot@example.org",
        "AGGREGATOR_SMTP_TO": to,
    }
    with pytest.raises(ConfigError) as excinfo:
        load_smtp_settings(environ)
    assert str(excinfo.value) == message


@dataclass
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    openssl = shutil.which("openssl")
    require_service(openssl is not None, "openssl command needed to make a test certificate")
    assert openssl is not None
    folder = tmp_path_factory.mktemp("tls")
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(files.key), "-out", str(files.cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return files


def local_settings(port: int, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": "digest@example.org",
        "recipients": ("alice@example.org", "bob@example.org"),
        "timeout": 5.0,
    }
    values.update(overrides)
    return SmtpSettings(**values)


def assert_digest_message(received: Received) -> None:
    message = received.message
    assert received.mail_from == "digest@example.org"
    assert received.rcpt_tos == ["alice@example.org", "bob@example.org"]
    assert message["Subject"] == SUBJECT
    assert message["From"] == "digest@example.org"
    assert message["To"] == "alice@example.org, bob@example.org"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.org>")
    alternative: Any = message
    if message.get_content_type() != "multipart/alternative":
        assert message.get_content_type() == "multipart/mixed"
        alternative = next(
            part
            for part in message.iter_parts()
            if part.get_content_type() == "multipart/alternative"
        )
    parts = list(alternative.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    # SMTP carries CRLF line ends; compare the text itself.
    assert [p.get_content().replace("\r\n", "\n") for p in parts] == [TEXT, HTML]


def test_send_digest_delivers_text_and_html_parts(smtp_server: SmtpServer) -> None:
    receipt = send_digest(local_settings(smtp_server.port), SUBJECT, TEXT, HTML)
    assert len(smtp_server.handler.received) == 1
    received = smtp_server.handler.received[0]
    assert received.message.get_content_type() == "multipart/alternative"
    assert_digest_message(received)
    assert receipt == DeliveryReceipt(
        message_id=received.message["Message-ID"],
        accepted=("alice@example.org", "bob@example.org"),
        refused=(),
    )


def test_send_digest_with_login_and_attachment(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ris = b"TY  - JOUR\nTI  - Synthetic study (PMID 99000001)\nER  - \n"
    settings = local_settings(smtp_server.port, username=USER, password=PASSWORD)
    send_digest(
        settings,
        SUBJECT,
        TEXT,
        HTML,
        attachments=[Attachment("digest.ris", ris, "application/x-research-info-systems")],
    )
    received = smtp_server.handler.received[0]
    assert received.message.get_content_type() == "multipart/mixed"
    assert_digest_message(received)
    attachments = list(received.message.iter_attachments())
    assert [(a.get_filename(), a.get_content_type(), a.get_content()) for a in attachments] == [
        ("digest.ris", "application/x-research-info-systems", ris)
    ]
    assert PASSWORD not in caplog.text


def test_attachment_from_path(tmp_path: Path) -> None:
    path = tmp_path / "digest.html"
    path.write_bytes(b"<p>synthetic</p>")
    assert Attachment.from_path(path) == Attachment("digest.html", b"<p>synthetic</p>", "text/html")
    with pytest.raises(
        DeliveryError, match=r"^cannot read attachment .*missing\.ris: No such file"
    ):
        Attachment.from_path(tmp_path / "missing.ris")


def test_wrong_password_is_a_one_line_error_without_the_password(smtp_server: SmtpServer) -> None:
    wrong = PASSWORD + "-wrong"
    settings = local_settings(smtp_server.port, username=USER, password=wrong)
    with pytest.raises(DeliveryError) as excinfo:
        send_digest(settings, SUBJECT, TEXT, HTML)
    assert isinstance(excinfo.value, AggregatorError)
    assert str(excinfo.value) == (
        f"SMTP server 127.0.0.1:{smtp_server.port} rejected the login for user 'digest-bot': "
        "535 5.7.8 Authentication credentials invalid"
    )
    assert smtp_server.handler.received == []


def test_partly_refused_recipients_are_reported(smtp_server: SmtpServer) -> None:
    smtp_server.handler.reject_rcpt.add("bob@example.org")
    receipt = send_digest(local_settings(smtp_server.port), SUBJECT, TEXT, HTML)
    assert (receipt.accepted, receipt.refused) == (("alice@example.org",), ("bob@example.org",))
    assert smtp_server.handler.received[0].rcpt_tos == ["alice@example.org"]


def test_all_recipients_refused(smtp_server: SmtpServer) -> None:
    smtp_server.handler.reject_rcpt.update({"alice@example.org", "bob@example.org"})
    with pytest.raises(DeliveryError) as excinfo:
        send_digest(local_settings(smtp_server.port), SUBJECT, TEXT, HTML)
    assert str(excinfo.value) == (
        f"SMTP server 127.0.0.1:{smtp_server.port} refused every recipient: "
        "alice@example.org, bob@example.org"
    )


def test_connection_refused_names_the_server() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(DeliveryError) as excinfo:
        send_digest(local_settings(port), SUBJECT, TEXT, HTML)
    assert str(excinfo.value) == (
        f"could not send the digest via SMTP server 127.0.0.1:{port}: connection refused"
    )


def test_silent_server_times_out() -> None:
    # Accepts the TCP connection but never sends the SMTP greeting.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        settings = local_settings(port, timeout=0.3)
        with pytest.raises(DeliveryError) as excinfo:
            send_digest(settings, SUBJECT, TEXT, HTML)
    assert str(excinfo.value) == (
        f"could not send the digest via SMTP server 127.0.0.1:{port}: timed out after 0.3s"
    )


def test_starttls_with_login(tls_files: TlsFiles) -> None:
    handler = StoringHandler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=check_login,
        tls_context=tls_files.server_context(),
        require_starttls=True,
    )
    controller.start()
    try:
        settings = SmtpSettings.from_url(
            f"smtp://{USER}:{PASSWORD.replace('@', '%40')}@127.0.0.1:{controller.port}"
            "?starttls=1&from=digest@example.org&timeout=5",
            recipients=("alice@example.org", "bob@example.org"),
        )
        send_digest(settings, SUBJECT, TEXT, HTML, ssl_context=tls_files.client_context())
    finally:
        controller.stop()
    assert_digest_message(handler.received[0])


def test_smtps_with_untrusted_certificate_fails_clearly(tls_files: TlsFiles) -> None:
    handler = StoringHandler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=tls_files.server_context(),
    )
    controller.start()
    try:
        settings = local_settings(controller.port, use_ssl=True)
        # Trusted CA: delivered over implicit TLS.
        send_digest(settings, SUBJECT, TEXT, HTML, ssl_context=tls_files.client_context())
        # Default trust store does not know the self-signed test certificate.
        with pytest.raises(DeliveryError) as excinfo:
            send_digest(settings, SUBJECT, TEXT, HTML)
    finally:
        controller.stop()
    assert len(handler.received) == 1
    assert_digest_message(handler.received[0])
    message = str(excinfo.value)
    assert message.startswith(
        f"could not send the digest via SMTP server 127.0.0.1:{controller.port}: "
        "[SSL: CERTIFICATE_VERIFY_FAILED]"
    )
    assert "\n" not in message


def test_no_recipients() -> None:
    with pytest.raises(DeliveryError) as excinfo:
        send_digest(local_settings(25, recipients=()), SUBJECT, TEXT, HTML)
    assert str(excinfo.value) == "no recipients for the digest mail via 127.0.0.1:25"


def test_subject_newlines_cannot_inject_headers(smtp_server: SmtpServer) -> None:
    send_digest(local_settings(smtp_server.port), "Digest\r\nBcc: evil@example.org", TEXT, HTML)
    message = smtp_server.handler.received[0].message
    assert message["Subject"] == "Digest Bcc: evil@example.org"
    assert message["Bcc"] is None

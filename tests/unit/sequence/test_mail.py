"""The e-mail of an automated email step: its template rendered in a sandbox with the lead's fields
only, and its delivery over SMTP to the local catcher — accepted with its headers, refused for good
(550), or not reached at all (worth another attempt, later and later)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr, ValidationError

from leadflow_tools import free_port
from leadflow_tools.smtp import SmtpCatcher
from sequence.mail import (
    MAX_BODY_CHARS,
    DeliveryFailed,
    SmtpSettings,
    TemplateProblem,
    check_template,
    render,
    retry_delay,
    send_email,
)
from sequence.settings import SequenceSettings

pytestmark = pytest.mark.unit
ADA = {"first_name": "Ada", "email": "ada@example.com", "company": {"name": "Analytical Engines"}, "phone": None}


def settings_for(catcher: SmtpCatcher) -> SmtpSettings:
    return SmtpSettings(
        host=catcher.host,
        port=catcher.port,
        starttls=False,
        username=None,
        password=None,
        sender="Leadflow <sales@leadflow.test>",
        timeout_seconds=5,
    )


def test_a_template_renders_the_leads_fields_and_the_subject_on_one_line() -> None:
    template = {
        "subject": "Hello {{ first_name }},\n  about {{ company.name }}",
        "body": "Dear {{ first_name|upper }},\nwe call you at {{ phone }}.\n{{ title|default('Regards') }}",
    }
    subject, body = render(template, ADA)
    assert subject == "Hello Ada, about Analytical Engines"
    assert body == "Dear ADA,\nwe call you at .\nRegards"


def test_a_field_the_lead_does_not_have_is_a_problem_that_names_it() -> None:
    with pytest.raises(TemplateProblem, match="the body uses a field the lead does not have: 'last_name'"):
        render({"subject": "Hi", "body": "Dear {{ last_name }}"}, ADA)
    assert render({"subject": "Hi", "body": "{% if last_name is defined %}x{% endif %}ok"}, ADA)[1] == "ok"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
        ("{{ first_name.__class__.__init__.__globals__ }}", "unsafe"),
        ("{{ first_name.upper() }}", "templates call no functions or methods"),
        ("{{ range(10) }}", "templates call no functions or methods"),
        ("{{ 'x' * 1000000000 }}", "larger than 10000 items"),
        ("{{ 9 ** 99999999 }}", "larger than 10000 items or bits"),
        ("{{ first_name|center(1000000000) }}", "No filter named 'center'"),
    ],
)
def test_the_sandbox_refuses_python_internals_calls_and_huge_results(body: str, reason: str) -> None:
    with pytest.raises(TemplateProblem, match=reason):
        render({"subject": "Hi", "body": body}, ADA)


def test_what_renders_too_long_is_a_problem() -> None:
    loop = "{% for _ in company %}{% for _ in company %}" + "y" * 9_000 + "{% endfor %}{% endfor %}"
    with pytest.raises(TemplateProblem, match=f"the body renders longer than {MAX_BODY_CHARS}"):
        render({"subject": "Hi", "body": loop * 2}, {"company": list(range(10))})
    with pytest.raises(TemplateProblem, match="the subject renders empty"):
        render({"subject": "{{ phone }}", "body": "b"}, ADA)


def test_check_template_reports_a_syntax_error_with_its_line_and_a_missing_part() -> None:
    assert check_template({"subject": "Hi {{ first_name }}", "body": "Dear {{ first_name }}"}) is None
    assert check_template({"subject": "Hi", "body": "Dear {{ first_name }},\n{% if %}\n"}) == (
        "the body has a syntax error on line 2: Expected an expression, got 'end of statement block'"
    )
    assert check_template({"subject": "Hi"}) == "the template has no body"


def test_an_email_arrives_at_the_catcher_with_its_headers(smtp_catcher: SmtpCatcher) -> None:
    send_email(
        settings_for(smtp_catcher),
        to="ada@example.com",
        subject="Hello Ada",
        body="Dear Ada,\nwelcome.\n",
        message_id="enrolment-1.step-e1@leadflow.test",
        headers={"X-Leadflow-Enrolment": "enrolment-1"},
    )

    mail = smtp_catcher.wait_for(lambda mail: "ada@example.com" in mail.recipients)
    assert (mail.sender, mail.recipients) == ("sales@leadflow.test", ("ada@example.com",))
    message = mail.message
    assert message["From"] == "Leadflow <sales@leadflow.test>"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Hello Ada"
    assert message["Message-ID"] == "<enrolment-1.step-e1@leadflow.test>"
    assert message["Date"] is not None
    assert message["X-Leadflow-Enrolment"] == "enrolment-1"
    assert message.get_content() == "Dear Ada,\nwelcome.\n"
    assert mail.path == smtp_catcher.folder / "1.eml"
    assert b"Subject: Hello Ada" in mail.path.read_bytes()


def test_a_refused_recipient_is_a_permanent_failure(smtp_catcher: SmtpCatcher) -> None:
    smtp_catcher.refuse("gone@example.com")

    with pytest.raises(DeliveryFailed, match=r"gone@example\.com refused: 550") as failed:
        send_email(settings_for(smtp_catcher), to="gone@example.com", subject="Hi", body="b", message_id="<1@t>")

    assert failed.value.permanent
    assert smtp_catcher.messages == []


def test_nothing_listening_is_a_temporary_failure() -> None:
    nowhere = SmtpSettings("127.0.0.1", free_port(), False, None, None, "sales@leadflow.test", timeout_seconds=2)

    with pytest.raises(DeliveryFailed, match="ConnectionRefusedError") as failed:
        send_email(nowhere, to="ada@example.com", subject="Hi", body="b", message_id="<1@t>")

    assert not failed.value.permanent


def test_attempts_are_spaced_further_and_further_apart_up_to_an_hour() -> None:
    delays = [retry_delay(attempt) for attempt in range(1, 7)]
    assert delays[:4] == [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=8), timedelta(minutes=32)]
    assert delays[4:] == [timedelta(hours=1), timedelta(hours=1)]


def test_the_smtp_settings_keep_the_password_out_of_sight_and_off_a_plain_connection() -> None:
    settings = SequenceSettings(
        smtp_host="mail.example.com", smtp_starttls=True, smtp_username="leadflow", smtp_password=SecretStr("s3cret")
    )
    smtp = settings.smtp()
    assert (smtp.host, smtp.port, smtp.password) == ("mail.example.com", 25, "s3cret")
    assert "s3cret" not in repr(smtp)
    with pytest.raises(ValidationError, match="never sent in the clear"):
        SequenceSettings(smtp_username="leadflow", smtp_password=SecretStr("s3cret"))

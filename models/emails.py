"""Emails as outbox rows: rendered from a template and written in the caller's transaction.

Delivery is `automation.mail`'s job. Templates are Jinja2 rendered in a sandbox, so an admin
who edits one cannot run code.
"""

from jinja2.sandbox import SandboxedEnvironment

from models.schema import EmailOutbox, EmailTemplate

DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    # name: (subject, body)
    "order_confirmation": ("Order confirmation #{{ order.number }}",
                           "Dear {{ client.first_name }},\n\nThank you for your order "
                           "#{{ order.number }}.\n"),
}

_env = SandboxedEnvironment(autoescape=False)


def template_for(name: str) -> tuple[str, str]:
    stored = EmailTemplate.get_or_none(EmailTemplate.name == name)
    if stored is not None:
        return stored.subject, stored.body
    if name not in DEFAULT_TEMPLATES:
        raise KeyError(f"no email template named {name!r}")
    return DEFAULT_TEMPLATES[name]


def render(name: str, context: dict) -> tuple[str, str]:
    subject, body = template_for(name)
    return _env.from_string(subject).render(context).strip(), _env.from_string(body).render(context)


def queue_email(template: str, *, to: str, context: dict, client_id: int | None = None,
                related_type: str = "", related_id: int | None = None) -> EmailOutbox:
    """Render `template` and queue it (call inside the transaction of the change that causes it)."""
    subject, body = render(template, context)
    return EmailOutbox.create(to_address=to, subject=subject, body=body, template=template,
                              client=client_id, related_type=related_type, related_id=related_id)

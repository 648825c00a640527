"""Errors the rules raise. Each names what was wrong so a screen or the CLI can say it plainly."""


class HostdeskError(Exception):
    """Base of every error hostdesk raises on purpose."""


class ValidationError(HostdeskError):
    """Bad input: `field` names the input, `message` says what is wrong with it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConfirmationNeeded(ValidationError):
    """Input that is allowed but unusual enough to ask first (a screen asks and sends the
    request again with the confirmation; a CLI needs its flag)."""


class ValidationErrors(HostdeskError):
    """Several bad inputs found at once, so the user can fix them all in one go."""

    def __init__(self, errors: list[ValidationError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


class StaleRecordError(HostdeskError):
    """Someone else saved the record since it was opened (optimistic locking)."""


class PermissionDenied(HostdeskError):
    """The admin's role lacks the permission named in `permission`."""

    def __init__(self, permission: str, login: str | None = None):
        who = f"{login} " if login else ""
        super().__init__(f"{who}lacks the permission '{permission}'")
        self.permission = permission
        self.login = login


class RuleViolation(HostdeskError):
    """A request the rules refuse (e.g. a second open cancellation request). `field`, when
    given, names the input the refusal is about (for the headless interface's JSON)."""

    def __init__(self, message: str = "", *, field: str | None = None):
        super().__init__(message)
        self.field = field


class RunInProgress(HostdeskError):
    """Another daily run holds the lock."""

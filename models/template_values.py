"""What an email template sees: plain values in dicts that know their place in the context
(`models.emails` builds them, `models.email_sandbox` renders with them)."""


class TemplateVars(dict):
    """A dict that knows its place in the context, so a missing key is reported by path."""

    __slots__ = ("_path",)

    def __init__(self, values: dict, path: str):
        super().__init__(values)
        self._path = path

"""The fast path of email templates: those that only print values, format amounts and loop
over lines, printed by a Python function made from the template, without Jinja.

The default invoice email (and most edited ones) is such a template. It is turned once into a
function printing it (the daily run queues one email per invoice, and Jinja's render of the
same text costs several times more). Whenever a value is not one it prints the way Jinja does
(a missing key, a type other than text, whole number or amount), the function raises
`NotPlain` and the email is rendered by Jinja instead (`models.email_sandbox`), so the text
and the errors are Jinja's.

What the function prints is a plan: ("text", str) | ("show", path, money) |
("loop", path, target, plan). `quick_plan` reads it from the text of the simplest
templates without Jinja, so a headless command queueing such an email (an upgrade order's
invoice) does not import Jinja; any other template is planned from Jinja's parse tree
(`email_sandbox._plain_renderer`). The function's source is made from the plan: text and
names go into it only as Python literals (repr), so no template text can become code.
"""

import re
from decimal import Decimal
from functools import lru_cache

from hostdesk.models.money import format_money
from hostdesk.models.settings import Settings
from hostdesk.models.template_values import TemplateVars

DEFAULT_CURRENCY = Settings().currency
RENDER_MAX_CHARS = 1_000_000  # what one email may render (the sandbox's budget too)
RENDER_MAX_ITERATIONS = 100_000  # loop steps, all loops of one email together


class NotPlain(Exception):
    """The fast path cannot print this email exactly as Jinja would: Jinja renders it."""


# --- reading the plan of the simplest templates without Jinja ---------------------------------
# Only what Jinja (trim_blocks, lstrip_blocks, keep_trailing_newline, as the sandbox sets it)
# reads one way for sure: `{{ a.b }}`, `{{ a.b|money }}`, `{% for x in a.b %}`, `{% endfor %}`
# and text. Anything else (comments, whitespace control, other tags or expressions, carriage
# returns, names Jinja reads as constants or operators) is left to Jinja's parser.

_TAG_START = re.compile(r"\{[{%#]")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH = rf"{_NAME}(?:\.{_NAME})*"
_SHOW = re.compile(rf"\s*({_PATH})\s*(\|\s*money\s*)?")
_FOR = re.compile(rf"\s*for\s+({_NAME})\s+in\s+({_PATH})\s*")
_ENDFOR = re.compile(r"\s*endfor\s*")
_WHITESPACE = re.compile(r"\s+")  # what Jinja's lstrip_blocks strips before a block tag
_NOT_NAMES = frozenset({"and", "or", "not", "in", "is", "if", "else", "elif", "for", "endfor",
                        "true", "false", "none", "True", "False", "None", "loop", "recursive",
                        "self", "raw", "endraw"})


def _path(text: str) -> tuple | None:
    path = tuple(text.split("."))
    return None if _NOT_NAMES & set(path) else path


def quick_plan(source: str) -> list | None:
    """The plan Jinja's parse tree would give, read from the text; None when the template
    is not one of the simplest (Jinja's parser then decides)."""
    if "\r" in source or "{#" in source:
        return None
    plans = [[]]  # the plan being filled, one more per loop open
    loops = []  # (path, target) of each open loop
    position, line_starting = 0, True
    while True:
        found = _TAG_START.search(source, position)
        text = source[position:found.start() if found else len(source)]
        if found and found.group() == "{%":  # lstrip_blocks, as Jinja's lexer applies it
            line = text.rfind("\n") + 1
            if (line > 0 or line_starting) and _WHITESPACE.fullmatch(text, line):
                text = text[:line]
        if text:
            plans[-1].append(("text", text))
        if not found:
            break
        closing = "}}" if found.group() == "{{" else "%}"
        end = source.find(closing, found.end())
        if end < 0 or source[found.end():found.end() + 1] in ("-", "+"):
            return None
        inside = source[found.end():end]
        position, line_starting = end + 2, False
        if closing == "}}":
            shown = _SHOW.fullmatch(inside)
            path = shown and _path(shown.group(1))
            if not path:
                return None
            plans[-1].append(("show", path, shown.group(2) is not None))
            continue
        if source.startswith("\n", position):  # trim_blocks
            position, line_starting = position + 1, True
        loop = _FOR.fullmatch(inside)
        if loop:
            path, target = _path(loop.group(2)), _path(loop.group(1))
            if not (path and target):
                return None
            loops.append((path, target[0]))
            plans.append([])
        elif _ENDFOR.fullmatch(inside) and loops:
            path, target = loops.pop()
            body = plans.pop()
            plans[-1].append(("loop", path, target, body))
        else:
            return None
    return plans[0] if not loops else None


# --- printing a plan ------------------------------------------------------------------------


def _emit(plan, local_names: dict, code: list, depth: int) -> None:
    """Append the Python lines printing `plan`; `local_names` maps loop variables to the
    Python names holding them."""
    pad = " " * depth

    def fetch(path) -> None:  # the value at `path` into `value`, as the sandbox reads it
        root, attributes = path[0], path[1:]
        code.append(f"{pad}value = {local_names[root]}" if root in local_names
                    else f"{pad}value = context[{root!r}]")
        for attribute in attributes:  # only from a TemplateVars, as the sandbox's getattr
            code.append(f"{pad}if type(value) is not TemplateVars: raise NotPlain")
            code.append(f"{pad}value = value[{attribute!r}]")

    for step in plan:
        if step[0] == "text":
            code.append(f"{pad}add({step[1]!r})")
        elif step[0] == "show":
            _, path, money = step
            fetch(path)
            code.append(f"{pad}kind = type(value)")
            code.append(f"{pad}if kind is Decimal: add(format_money(value, currency))")
            if money:
                code.append(f"{pad}else: raise NotPlain")
            else:
                code += [f"{pad}elif kind is str: add(value)",
                         f"{pad}elif kind is int: add(str(value))",
                         f"{pad}else: raise NotPlain"]
        else:
            _, path, target, body = step
            fetch(path)
            # every loop of the email together, as Jinja's budget counts them
            code.append(f"{pad}steps += len(value) if type(value) is list else MAX_STEPS + 1")
            code.append(f"{pad}if steps > MAX_STEPS: raise NotPlain")
            name = f"item{depth}"
            code.append(f"{pad}for {name} in value:")
            _emit(body, {**local_names, target: name}, code, depth + 1)
            code.append(f"{pad} pass")


def printer(plan: list):
    """A function (context) -> text printing `plan` as Jinja would, raising NotPlain when
    it cannot."""
    code = ["def render(context):",
            " out = []",
            " add = out.append",
            " currency = context.get('currency') or DEFAULT_CURRENCY",
            " steps = 0",
            " try:",
            "  pass"]  # a template of nothing but comments prints nothing
    _emit(plan, {}, code, 2)
    code += [" except KeyError:", "  raise NotPlain from None", " return ''.join(out)"]
    namespace = {"TemplateVars": TemplateVars, "Decimal": Decimal, "format_money": format_money,
                 "NotPlain": NotPlain, "DEFAULT_CURRENCY": DEFAULT_CURRENCY,
                 "MAX_STEPS": RENDER_MAX_ITERATIONS}
    exec(compile("\n".join(code), "<plain email template>", "exec"), namespace)  # noqa: S102
    return namespace["render"]


@lru_cache(maxsize=512)
def quick_printer(source: str):
    """The printing function of a template `quick_plan` reads, or None."""
    plan = quick_plan(source)
    return None if plan is None else printer(plan)


def print_plain(render, context) -> str | None:
    """The email printed by `render`, or None when Jinja must render it."""
    if render is None or type(context) is not TemplateVars:
        return None
    try:
        text = render(context)
    except NotPlain:
        return None
    return text if len(text) <= RENDER_MAX_CHARS else None

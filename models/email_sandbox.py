"""The sandbox email templates render in (`models.emails` is the rest): Jinja2 without access
to Python internals, within a budget of time, size and loop steps, so an admin who edits a
template can neither run code nor stall the daily run.

A module of its own so that Jinja2 is imported only when an email is rendered or a template
checked: a command that sends no email (a look-up, a quote), or only emails whose templates
`models.email_plain` prints without Jinja (an upgrade order's invoice), never loads it.
"""

import contextvars
import time
from decimal import Decimal
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes, pass_context
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from hostdesk.models.email_plain import (
    DEFAULT_CURRENCY,
    RENDER_MAX_CHARS,
    RENDER_MAX_ITERATIONS,
    print_plain,
    printer,
    quick_printer,
)
from hostdesk.models.errors import ValidationError
from hostdesk.models.money import format_money
from hostdesk.models.template_values import TemplateVars

_MAX_REPEAT = 100_000  # longest string/list a template may build with * or **
# What one email may cost to render: an admin's template runs in the daily run, thousands of
# times, so a loop that never ends or a body of gigabytes must fail that email, not the run.
RENDER_SECONDS = 2.0  # RENDER_MAX_CHARS and RENDER_MAX_ITERATIONS: models/email_plain.py
TEMPLATE_MAX_CHARS = 100_000  # a template's own text


class _OverBudget(TemplateError):
    pass


class _Budget:
    __slots__ = ("deadline", "iterations")

    def __init__(self):
        self.deadline = time.monotonic() + RENDER_SECONDS
        self.iterations = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _OverBudget(f"it took longer than {RENDER_SECONDS:g} s to render")

    def step(self) -> None:
        self.iterations += 1
        if self.iterations > RENDER_MAX_ITERATIONS:
            raise _OverBudget(f"its loops ran more than {RENDER_MAX_ITERATIONS} times")
        if not self.iterations % 256:
            self.check_time()


_budget: contextvars.ContextVar = contextvars.ContextVar("template_budget", default=None)


def _budgeted(iterable):
    """Every `{% for %}` loops through this (see `_Sandbox._parse`)."""
    budget = _budget.get()
    for item in iterable:
        if budget is not None:
            budget.step()
        yield item


class _NamedUndefined(StrictUndefined):
    """StrictUndefined whose message names the whole path: 'invoice.totl' is undefined."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if not self._undefined_hint and isinstance(self._undefined_obj, TemplateVars):
            return f"'{self._undefined_obj._path}.{self._undefined_name}' is undefined"
        return super()._undefined_message


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, plus a bound on `*` and `**` so a template cannot exhaust memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, int) and abs(right) > 100:
            raise SecurityError("exponent too large")
        sequences = (str, list, tuple)
        if operator == "*" and isinstance(left, sequences) != isinstance(right, sequences):
            sequence, count = (left, right) if isinstance(left, sequences) else (right, left)
            if isinstance(count, int) and len(sequence) * count > _MAX_REPEAT:
                raise SecurityError("the result of * would be too large")
        return super().call_binop(context, operator, left, right)

    def call(self, __context, __obj, *args, **kwargs):
        budget = _budget.get()
        if budget is not None:
            budget.check_time()  # a macro calling itself, a filter on a huge value...
        return super().call(__context, __obj, *args, **kwargs)

    def _parse(self, source, name, filename):
        """The template's tree, with every loop's iterable passed through the budget."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "hostdesk_budgeted", [], [], None, None,
                                     lineno=loop.lineno)
        return tree

    def getattr(self, obj, attribute):
        # `invoice.total` on a context value is its key: a TemplateVars holds only values the
        # context already checked, so the sandbox's attribute probe (an exception per
        # variable, thousands per daily run) is needed only for anything else.
        if type(obj) is TemplateVars:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@pass_context
def _shown(context, value):
    """What `{{ ... }}` prints: an amount (a Decimal) as money in the email's currency, so a
    template written before the `money` filter still reads `$1,210.00`, not `1210.00`."""
    if type(value) is Decimal:
        return format_money(value, context.get("currency") or DEFAULT_CURRENCY)
    return value


@pass_context
def _money_filter(context, value, currency: str | None = None) -> str:
    """`{{ amount|money }}`: the amount by the `locale` setting in the email's currency (an
    invoice's own), or in the one named: `|money('EUR')`."""
    if type(value) is Decimal:  # nearly always: skip the checks below
        return format_money(value, currency or context.get("currency") or DEFAULT_CURRENCY)
    if isinstance(value, str):
        value = Decimal(value)  # raises for text that is no number: the template failed
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"money takes an amount, not {type(value).__name__}")
    return format_money(value if type(value) is Decimal else Decimal(value),
                        currency or context.get("currency") or DEFAULT_CURRENCY)


_env = _Sandbox(autoescape=False, undefined=_NamedUndefined, trim_blocks=True,
                lstrip_blocks=True, keep_trailing_newline=True, finalize=_shown)
_env.filters["hostdesk_budgeted"] = _budgeted
_env.filters["money"] = _money_filter


@lru_cache(maxsize=512)
def _compiled(source: str):
    """The compiled template and its globals as one plain dict (Jinja would merge them from
    a ChainMap on every render: half the cost of a short email)."""
    template = _env.from_string(source)
    return template, dict(template.globals)


def _render_compiled(compiled, context: dict) -> str:
    """`template.render(context)`, with the globals merged once per template, within the
    render budget (time, size, loop steps)."""
    template, globals_ = compiled
    context = template.new_context({**globals_, **context}, shared=True)
    budget = _Budget()
    token = _budget.set(budget)
    try:
        pieces, size = [], 0
        for count, piece in enumerate(template.root_render_func(context), start=1):
            size += len(piece)
            if size > RENDER_MAX_CHARS:
                raise _OverBudget(f"it renders more than {RENDER_MAX_CHARS} characters")
            pieces.append(piece)
            if not count % 32:  # the clock every few pieces: loops and calls check it too
                budget.check_time()
        budget.check_time()
        return _env.concat(pieces)
    finally:
        _budget.reset(token)


@lru_cache(maxsize=512)
def _source_problem(source: str) -> str | None:
    """What is wrong with template text, or None. Refuses at save time what the sandbox
    would refuse at render time, even in a branch a sample context does not reach."""
    if len(source) > TEMPLATE_MAX_CHARS:
        return f" is longer than {TEMPLATE_MAX_CHARS} characters"
    try:
        tree = _env.parse(source)
    except TemplateSyntaxError as exc:
        return f", line {exc.lineno}: {exc.message}"
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem):
            name = node.arg.value if isinstance(node.arg, nodes.Const) else None
        else:
            name = node.name
        if isinstance(name, str) and name.startswith("_"):
            return (f" refers to '{name}': names starting with '_' reach Python internals "
                    "and are not allowed")
    return None


def uses_name(source: str, name: str) -> bool:
    return any(node.name == name for node in _env.parse(source).find_all(nodes.Name))


def check_source(source: str, part: str, template: str) -> None:
    problem = _source_problem(source)
    if problem is not None:
        raise ValidationError(part, f"email template '{template}'{problem}")


# --- the fast path (models/email_plain.py): templates that only print values ---------------


def _plan(body) -> list | None:
    """The nodes as email_plain's plan, or None when one of them does more than print values
    and loop over a list."""
    plan = []
    for node in body:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if isinstance(child, nodes.TemplateData):
                    plan.append(("text", child.data))
                    continue
                money = (isinstance(child, nodes.Filter) and child.name == "money"
                         and not child.args and not child.kwargs and child.dyn_args is None
                         and child.dyn_kwargs is None)
                path = _path(child.node if money else child)
                if path is None:
                    return None
                plan.append(("show", path, money))
        elif isinstance(node, nodes.For):
            iterable = node.iter
            if isinstance(iterable, nodes.Filter) and iterable.name == "hostdesk_budgeted":
                iterable = iterable.node
            if (node.else_ or node.test is not None or node.recursive
                    or not isinstance(node.target, nodes.Name)
                    or any(name.name == "loop" for name in node.find_all(nodes.Name))):
                return None
            path, body_plan = _path(iterable), _plan(node.body)
            if path is None or body_plan is None:
                return None
            plan.append(("loop", path, node.target.name, body_plan))
        else:
            return None
    return plan


def _path(node) -> tuple | None:
    """("client", "first_name") for `client.first_name`; None for any other expression."""
    names = []
    while isinstance(node, nodes.Getattr) and node.ctx == "load":
        names.append(node.attr)
        node = node.node
    if not (isinstance(node, nodes.Name) and node.ctx == "load"):
        return None
    return (node.name, *reversed(names))


@lru_cache(maxsize=512)
def _plain_renderer(source: str):
    """The fast path's function printing the template, None when the template does more
    than print values and loop (the simplest are read without Jinja's parser)."""
    render = quick_printer(source)
    if render is not None:
        return render
    plan = _plan(_env.parse(source).body)
    return None if plan is None else printer(plan)


def _render_plain(source: str, context) -> str | None:
    """The email by the fast path, or None when Jinja must render it."""
    return print_plain(_plain_renderer(source), context)


def render_part(source: str, context: dict, part: str, template: str) -> str:
    try:
        plain = _render_plain(source, context)
        if plain is not None:
            return plain
        return _render_compiled(_compiled(source), context)
    except SecurityError as exc:
        raise ValidationError(
            part, f"email template '{template}' tries something not allowed in a template: {exc}"
        ) from None
    except UndefinedError as exc:
        raise ValidationError(
            part, f"email template '{template}' uses a variable this email does not have: "
                  f"{exc.message}") from None
    except TemplateSyntaxError as exc:
        raise ValidationError(
            part, f"email template '{template}', line {exc.lineno}: {exc.message}") from None
    except _OverBudget as exc:
        raise ValidationError(part, f"email template '{template}' is too costly: {exc}") from None
    except RecursionError:
        raise ValidationError(part, f"email template '{template}' calls itself without end "
                                    "(recursion)") from None
    except MemoryError:
        raise ValidationError(part, f"email template '{template}' needs too much memory") from None
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise ValidationError(part, f"email template '{template}' failed: {exc}") from None

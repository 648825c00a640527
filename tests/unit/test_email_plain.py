"""The email fast path's reader of the simplest templates (models/email_plain.py) gives the
plan Jinja's parse tree gives, or leaves the template to Jinja: checked against Jinja itself."""

from hypothesis import given, settings
from hypothesis import strategies as st

from hostdesk.models.email_plain import quick_plan
from hostdesk.models.email_sandbox import _env, _plan
from hostdesk.models.emails import DEFAULT_TEMPLATES


def _jinja_plan(source: str):
    try:
        return _plan(_env.parse(source).body)
    except Exception:  # noqa: BLE001 - a template Jinja refuses has no plan
        return None


def test_the_default_templates_jinja_reads_as_plain_are_read_without_jinja():
    read = 0
    for name, parts in DEFAULT_TEMPLATES.items():
        for source in parts:
            quick = quick_plan(source)
            if quick is not None:
                assert quick == _jinja_plan(source), name
                read += 1
    subject, body = DEFAULT_TEMPLATES["invoice_created"]  # an upgrade order's email
    assert quick_plan(subject) is not None and quick_plan(body) is not None
    assert read >= 10


def test_whitespace_around_block_tags_is_jinjas():
    for source in ("a\n  {% for x in xs %}\n    {{ x.name }}\n  {% endfor %}\nb",
                   "{% for x in xs %}  {% endfor %}", "  {% for x in xs %}{% endfor %}",
                   "{{ a }}  {% for x in xs %}{% endfor %}\n",
                   "\t{% for x in xs %}\n\n{% endfor %}",
                   "{% for x in xs %}{{ x|money }}{% endfor %}{{ total | money }}"):
        assert quick_plan(source) is not None, source
        assert quick_plan(source) == _jinja_plan(source), source


def test_what_it_cannot_be_sure_of_is_left_to_jinja():
    for source in ("{{- a }}", "{{ a -}}", "{%- for x in xs %}{% endfor %}", "{# note #}",
                   "{% if a %}b{% endif %}", "{{ a.0 }}", "{{ true }}", "{{ a|upper }}",
                   "{{ a }", "{% for x in xs %}", "{% endfor %}", "a\r\nb",
                   "{% for x in xs %}{{ loop.index }}{% endfor %}", "{% raw %}{{ a }}{% endraw %}",
                   "{% for x in xs if x %}{% endfor %}", "{{ a + b }}", "{{ 'text' }}"):
        assert quick_plan(source) is None, source


_PIECES = st.sampled_from([
    "{{", "}}", "{%", "%}", "{#", "#}", " ", "  ", "\n", "\t", "-", "+", "|", ".", "a", "x",
    "xs", "a.b", "money", "for", "in", "endfor", "true", "loop", "if", "text", "}", "{",
    "{{ a }}", "{{ a.b|money }}", "{% for x in xs %}", "{% endfor %}", "\n  ", "\u00a0",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=14).map("".join))
def test_a_plan_read_without_jinja_is_always_jinjas(source):
    quick = quick_plan(source)
    if quick is not None:
        assert quick == _jinja_plan(source)

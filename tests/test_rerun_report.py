"""The suite's own report: a screen test that passed on its rerun still shows what it failed
with the first time (tests/conftest.py), so a flaky test can be fixed from a CI log."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
REPOSITORY = Path(__file__).resolve().parent.parent


@pytest.fixture
def suite_run(pytester, monkeypatch):
    """pytest in a process of its own, with the suite's report hook as its conftest."""
    monkeypatch.setenv("PYTHONPATH", str(REPOSITORY))
    pytester.makeconftest("from tests.conftest import pytest_terminal_summary\n")
    return lambda: pytester.runpytest_subprocess("-p", "rerunfailures", "-p", "no:cacheprovider")


def test_a_rerun_tests_first_failure_is_printed_at_the_end(pytester, suite_run):
    pytester.makepyfile(test_once="""
        import pytest

        runs = []

        @pytest.mark.flaky(reruns=1)
        def test_fails_the_first_time():
            runs.append(1)
            assert len(runs) > 1, "the screen was read a frame early"
    """)
    result = suite_run()
    assert result.parseoutcomes() == {"passed": 1, "rerun": 1}
    result.stdout.fnmatch_lines(["*why tests were rerun*",
                                 "test_once.py::test_fails_the_first_time (call):",
                                 "*AssertionError: the screen was read a frame early*"])


def test_nothing_is_added_when_no_test_was_rerun(pytester, suite_run):
    pytester.makepyfile(test_once="def test_passes():\n    assert True\n")
    result = suite_run()
    assert result.parseoutcomes() == {"passed": 1}
    assert "why tests were rerun" not in result.stdout.str()

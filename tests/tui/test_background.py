"""The one way screens run database work off the UI thread (`tui.background`): the work has a
connection of its own, the answer comes back on the UI thread, a replaced worker's answer is
dropped, and an error reaches `failed` (or a notification), never a traceback."""

from __future__ import annotations

import threading

from textual.app import App

from hostdesk.models.db import database
from hostdesk.models.schema import Admin
from tests.tui.conftest import run, settle
from hostdesk.tui.background import run_in_background


class Harness(App):
    """Just a screen to run work for; what comes back is collected."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list = []
        self.on_ui_thread: list[bool] = []

    def take(self, answer) -> None:
        self.on_ui_thread.append(threading.get_ident() == self._thread_id)
        self.answers.append(answer)


def test_the_work_reads_the_database_and_answers_on_the_ui_thread(db):
    Admin.create(login="ada", role="full")

    async def scenario():
        app = Harness()
        async with app.run_test() as pilot:
            run_in_background(app.screen, lambda: (
                threading.get_ident() != app._thread_id and not database.is_closed(),
                [a.login for a in Admin.select()]), app.take)
            await settle(pilot)
            assert app.answers == [(True, ["ada"])]
            assert app.on_ui_thread == [True]

    run(scenario())


def test_a_replaced_worker_s_answer_is_dropped(db):
    release = threading.Event()

    def slow() -> str:
        release.wait(10)
        return "old"

    async def scenario():
        app = Harness()
        async with app.run_test() as pilot:
            run_in_background(app.screen, slow, app.take, group="quote")
            run_in_background(app.screen, lambda: "new", app.take, group="quote")
            await settle(pilot, until=lambda: app.answers == ["new"])
            release.set()
            await settle(pilot)
            assert app.answers == ["new"]

    run(scenario())


def test_an_error_goes_to_failed_or_is_said(db):
    async def scenario():
        app = Harness()
        async with app.run_test() as pilot:
            run_in_background(app.screen, lambda: 1 / 0, app.take, failed=app.take,
                              group="one")
            await settle(pilot)
            assert [type(answer) for answer in app.answers] == [ZeroDivisionError]
            run_in_background(app.screen, lambda: int("x"), app.take, group="two")
            await settle(pilot)
            assert len(app.answers) == 1  # not `done`: the error is a notification
            assert [n.title for n in app._notifications] == ["Failed"]

    run(scenario())

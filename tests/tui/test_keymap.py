"""`[keymap]` in the config file: binding ids mapped to other keys, applied when the app
starts; an unknown id is a configuration error naming it."""

from __future__ import annotations

import os

import pytest

from hostdesk.automation.config import load_config
from hostdesk.automation.identity import OsAccount
from hostdesk.models.errors import ValidationErrors
from tests.tui.conftest import CLOCK, run, settle
from hostdesk.tui.app import make_app
from hostdesk.tui.cli import EXIT_USAGE, main
from hostdesk.tui.keymap import binding_ids
from hostdesk.tui.widgets.export_dialog import ExportDialog


def config_file(tmp_path, text: str) -> str:
    path = tmp_path / "hostdesk.toml"
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def test_every_binding_the_key_table_names_has_an_id():
    ids = binding_ids()
    for known in ("app.go", "list-screen.export", "list-screen.search", "list.tick",
                  "services.filters"):
        assert known in ids
    assert ids["list-screen.export"].key == "e"


def test_a_keymap_entry_moves_a_binding_to_other_keys(catalog, db_url, tmp_path):
    path = config_file(tmp_path, '[keymap]\n"list-screen.export" = "x"\n'
                                 '"list-screen.search" = "ctrl+f,slash"\n')
    config = load_config(path, database_url=db_url, environ={})
    assert config.keymap == {"list-screen.export": "x", "list-screen.search": "ctrl+f,slash"}

    async def scenario():
        app = make_app(config, "tester", CLOCK)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("g", "c")
            await settle(pilot)
            await pilot.press("e")  # no longer export
            await settle(pilot)
            assert not isinstance(app.screen, ExportDialog)
            await pilot.press("x")
            await settle(pilot)
            assert isinstance(app.screen, ExportDialog)
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("ctrl+f")
            await settle(pilot)
            assert app.screen.search_input.has_focus

    run(scenario())


def test_an_unknown_binding_id_is_a_config_error_naming_it(db, db_url, tmp_path, capsys):
    path = config_file(tmp_path, '[keymap]\n"list-screen.exprot" = "x"\n"app.go" = "G"\n')
    config = load_config(path, database_url=db_url, environ={})
    with pytest.raises(ValidationErrors) as caught:
        make_app(config, "tester", CLOCK)
    assert [e.field for e in caught.value.errors] == [f"keymap.list-screen.exprot (in {path})"]

    code = main(["--config", path, "--db", db_url],
                os_account=OsAccount(uid=os.getuid(), login="tester"))
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "config: keymap.list-screen.exprot" in err and "is not a binding id" in err


def test_a_keymap_that_is_not_a_table_is_refused(tmp_path):
    path = config_file(tmp_path, 'keymap = "x"\n')
    with pytest.raises(ValidationErrors) as caught:
        load_config(path, database_url="sqlite:///x.db", environ={})
    assert "keymap" in str(caught.value.errors[0])

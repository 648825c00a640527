"""The real `hostdesk` command in a real terminal (tmux): it shows the main screen, and when
the terminal goes away (as with a dropped SSH connection) the process goes too."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostdesk.automation.identity import current_os_account

HOSTDESK = Path(sys.executable).parent / "hostdesk"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def process_gone(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (it no longer runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_for(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    return predicate()


def test_hostdesk_in_tmux_shows_the_main_screen_and_dies_with_its_terminal(tmp_path):
    url = f"sqlite:///{tmp_path / 'tmux.db'}"
    # The OS account running the test becomes the first admin (rules §12: the acting admin is
    # the OS account, found by uid).
    subprocess.run([str(HOSTDESK), "--db", url, "init"], check=True,
                   capture_output=True, timeout=60)
    server = f"hostdesk-test-{os.getpid()}"

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", server, *args], check=True, capture_output=True,
                              text=True, timeout=10).stdout

    # A fixed COLUMNS/LINES (pytest may export them) would override the terminal's real size.
    command = (f"exec env -u COLUMNS -u LINES TERM=xterm-256color {shlex.quote(str(HOSTDESK))} "
               f"--db {shlex.quote(url)}")
    tmux("new-session", "-d", "-s", "desk", "-x", "100", "-y", "30", command)
    try:
        pid = int(tmux("display-message", "-p", "-t", "desk", "#{pane_pid}").strip())
        screen = wait_for(lambda: (text := tmux("capture-pane", "-p", "-t", "desk"))
                          and "never run" in text and text, 30)
        assert screen, tmux("capture-pane", "-p", "-t", "desk")
        assert "hostdesk · Main screen" in screen
        assert f"{current_os_account().login} (full)" in screen
        assert "─" * 96 in screen  # drawn at the terminal's full width of 100
        for words in ("g c  Clients              0 active", "g s  Services",
                      "g a  Automation status    never run", "No successful daily run on record"):
            assert words in screen, words
        assert not process_gone(pid)

        tmux("kill-session", "-t", "desk")  # the terminal hangs up, as sshd does on a drop
        assert wait_for(lambda: process_gone(pid), 5), "hostdesk outlived its terminal"
    finally:
        subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True, timeout=10)

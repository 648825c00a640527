"""The built wheel holds only the `hostdesk` namespace and works installed outside the repository,
even next to another distribution that ships a top-level `automation` package."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COLUMNS", "LINES")}
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env, check=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out),
        str(ROOT))
    (built,) = out.glob("hostdesk-*.whl")
    return built


def impostor_distribution(where: Path) -> Path:
    """A wheel-less project that installs its own top-level `automation/config.py`."""
    project = where / "impostor"
    (project / "automation").mkdir(parents=True)
    (project / "automation" / "__init__.py").write_text("")
    (project / "automation" / "config.py").write_text("raise ImportError('not hostdesk')\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "impostor-automation"\nversion = "1.0"\n'
        '[tool.setuptools]\npackages = ["automation"]\n')
    return project


def test_wheel_contains_only_the_hostdesk_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"hostdesk"}
    sources = {f"hostdesk/{path.relative_to(ROOT).as_posix()}"
               for folder in ("models", "automation", "tui") for path in (ROOT / folder).rglob("*")
               if path.suffix in (".py", ".tcss", ".json") and "__pycache__" not in path.parts}
    assert "hostdesk/models/invoicing.py" in sources and "hostdesk/tui/hostdesk.tcss" in sources
    assert sources <= set(names), sorted(sources - set(names))  # every module and data file


def test_installed_wheel_runs_init_cron_and_the_tui_beside_an_impostor(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    python = venv / "bin" / "python"
    hostdesk = venv / "bin" / "hostdesk"
    run(str(python), "-m", "pip", "install", "--quiet", str(wheel),
        str(impostor_distribution(tmp_path)), timeout=600)

    elsewhere = tmp_path / "elsewhere"  # outside the repository: nothing of ours on sys.path
    elsewhere.mkdir()
    url = f"sqlite:///{elsewhere / 'wheel.db'}"
    init = run(str(hostdesk), "--db", url, "init", cwd=elsewhere)
    assert init.returncode == 0
    cron = run(str(hostdesk), "--db", url, "cron", "--json", cwd=elsewhere)
    assert '"tasks"' in cron.stdout or '"ok"' in cron.stdout, cron.stdout
    located = run(str(python), "-c", "import hostdesk.automation.config as c; print(c.__file__)",
                  cwd=elsewhere)
    assert str(venv) in located.stdout

    if shutil.which("tmux") is None:
        pytest.skip("needs tmux for the TUI's first screen")
    server = f"hostdesk-wheel-{os.getpid()}"
    command = (f"exec env -u COLUMNS -u LINES TERM=xterm-256color {shlex.quote(str(hostdesk))} "
               f"--db {shlex.quote(url)}")
    subprocess.run(["tmux", "-L", server, "new-session", "-d", "-s", "w", "-x", "100", "-y", "30",
                    "-c", str(elsewhere), command], check=True, timeout=10)
    try:
        deadline = time.monotonic() + 30
        screen = ""
        while time.monotonic() < deadline and "Main screen" not in screen:
            time.sleep(0.2)
            screen = subprocess.run(["tmux", "-L", server, "capture-pane", "-p", "-t", "w"],
                                    capture_output=True, text=True, timeout=10).stdout
        assert "hostdesk · Main screen" in screen, screen
    finally:
        subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True, timeout=10)

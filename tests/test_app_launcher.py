"""``quantviz app`` and ``quantviz --version``: where the dashboard is found, what runs it, and
the message (never a traceback) when it cannot start. The real start from a wheel and from an
editable install is in ``test_packaging.py``."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import pytest

import quantviz as qv
import quantviz.app_launcher as launcher
from quantviz.cli import EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def make_app(folder: Path) -> Path:
    (folder / "pages").mkdir(parents=True)
    (folder / "app.py").write_text("import streamlit as st\n")
    return folder


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Commands ``quantviz app`` would exec, recorded instead of run."""
    calls: list[list[str]] = []

    def fake_exec(path: str, argv: list[str]) -> int:
        assert path == argv[0]
        calls.append(argv)
        return 0

    monkeypatch.setattr(launcher, "_exec", fake_exec)
    return calls


def test_version_prints_the_package_version() -> None:
    code, out, _ = run_cli("--version")
    assert code == 0
    assert out == f"quantviz {qv.__version__}\n"


def test_a_clone_runs_its_own_app_py() -> None:
    assert launcher.find_app_dir(ROOT / "quantviz") == ROOT


def test_a_wheel_runs_the_app_it_ships(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "quantviz"
    make_app(package / "_app")
    assert launcher.find_app_dir(package) == package / "_app"


def test_a_foreign_app_py_beside_the_package_is_not_run(tmp_path: Path) -> None:
    site = make_app(tmp_path / "site-packages")  # some other project's app.py and pages/
    (site / "pyproject.toml").write_text('[project]\nname = "other"\n')
    (site / "quantviz").mkdir()
    assert launcher.find_app_dir(site / "quantviz") is None


def test_config_flags_carry_the_apps_streamlit_settings() -> None:
    flags = launcher.config_flags(ROOT)
    assert "--client.showSidebarNavigation=false" in flags
    assert "--server.maxUploadSize=1024" in flags
    assert "--browser.gatherUsageStats=false" in flags


def test_app_execs_streamlit_run_with_the_users_flags_last(recorded: list[list[str]]) -> None:
    code, _, err = run_cli("app", "--server.port", "8600", "--server.headless", "true")
    assert code == 0
    [cmd] = recorded
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    app_at = cmd.index(str(ROOT / "app.py"))
    assert cmd[app_at + 1 :] == ["--server.port", "8600", "--server.headless", "true"]
    assert "--server.enableXsrfProtection=true" in cmd[4:app_at]
    assert f"starting the dashboard from {ROOT}" in err


@pytest.mark.parametrize("argv", [["scan", "m.safetensors", "--server.port", "1"], ["--port"]])
def test_other_commands_still_refuse_unknown_arguments(
    argv: list[str], recorded: list[list[str]]
) -> None:
    code, _, err = run_cli(*argv)
    assert code == EXIT_USAGE
    assert "unrecognized arguments" in err or "required" in err
    assert recorded == []


def test_without_streamlit_app_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, recorded: list[list[str]]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "streamlit" else real(name)
    )
    code, out, err = run_cli("app")
    assert code == launcher.EXIT_CANNOT_START
    assert "pip install 'quantviz[app]'" in err
    assert "Traceback" not in out + err
    assert recorded == []


def test_without_app_files_app_says_how_to_get_them(
    tmp_path: Path, recorded: list[list[str]]
) -> None:
    err = io.StringIO()
    code = launcher.run_app([], err, package_dir=tmp_path / "quantviz")
    assert code == launcher.EXIT_CANNOT_START
    assert "no dashboard files" in err.getvalue()
    assert "pip install -e '.[app]'" in err.getvalue()
    assert recorded == []

"""quantviz as a package people install.

Fast: requirements.txt / requirements-dev.txt and pyproject.toml's dependencies do not drift, and
the version has one source. Slow (marked): the wheel is built from a clean copy of the clone,
installed into a fresh virtual environment outside it (with requirements.txt as constraints, so
the tested versions are the ones that install), and used as a person would: ``quantviz --help``,
``quantviz scan`` on a checkpoint made here, ``import quantviz``, ``quantviz app`` without and
with streamlit, and an editable install's ``quantviz app`` answering its health check.

The slow tests share one environment that grows in file order: wheel only, then the ``app``
extra, then the editable install of the clone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement
from safetensors.torch import save_file

import quantviz as qv

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
INSTALL_TIMEOUT_S = 900
APP_START_TIMEOUT_S = 90


def pins(requirements: str) -> dict[str, str]:
    """``{name: version}`` of a requirements file's ``name==version`` lines (not ``-r``)."""
    found = {}
    for line in (ROOT / requirements).read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        [spec] = req.specifier
        assert spec.operator == "==", f"{requirements}: {line} is not pinned with =="
        found[req.name.lower()] = spec.version
    return found


def declared(*groups: str) -> dict[str, Requirement]:
    """pyproject's requirements: ``"dependencies"`` or an extra's name; quantviz[...] left out."""
    reqs = []
    for group in groups:
        reqs += PROJECT["dependencies"] if group == "dependencies" else []
        reqs += PROJECT["optional-dependencies"].get(group, [])
    parsed = [Requirement(r) for r in reqs]
    return {r.name.lower(): r for r in parsed if r.name != "quantviz"}


@pytest.mark.parametrize(
    ("requirements", "groups"),
    [
        pytest.param("requirements.txt", ("dependencies", "app"), id="app-pins=deps+app"),
        pytest.param("requirements-dev.txt", ("test",), id="dev-pins=test-extra"),
    ],
)
def test_pins_and_pyproject_ranges_do_not_drift(requirements: str, groups: tuple) -> None:
    pinned, ranges = pins(requirements), declared(*groups)
    assert sorted(pinned) == sorted(ranges), (
        f"{requirements} pins and pyproject.toml's {' + '.join(groups)} name different "
        "packages: add the missing one to the other file"
    )
    for name, version in pinned.items():
        assert ranges[name].specifier.contains(version, prereleases=True), (
            f"pyproject.toml's {ranges[name]} does not admit {name}=={version} of {requirements}"
        )


def test_the_core_does_not_need_streamlit() -> None:
    assert "streamlit" not in declared("dependencies")
    assert "streamlit" in declared("app")


def test_the_version_has_one_source() -> None:
    assert "version" not in PROJECT
    assert "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "quantviz.__version__"}
    assert PROJECT["scripts"] == {"quantviz": "quantviz.cli:main"}
    assert qv.__version__.count(".") == 2


# --- slow: build, install, use -------------------------------------------------------------

IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
    "test-artifacts",
)  # fmt: skip


def clean_env() -> dict[str, str]:
    """The environment without anything that would make Python see the clone or .venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def sh(*cmd: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"{proc.args} exited {proc.returncode}\n{proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel`` of a clean copy of the clone (no stale build/), outside the clone."""
    work = tmp_path_factory.mktemp("build")
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=IGNORED, symlinks=True)
    ok(sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", work / "dist", src, cwd=work))
    [built] = (work / "dist").glob("quantviz-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment outside the clone with the wheel (no extras) installed."""
    home = tmp_path_factory.mktemp("user")
    venv.create(home / "venv", with_pip=True)
    pip_install(home, str(wheel))
    return home


def pip_install(home: Path, *what: str) -> None:
    python = home / "venv" / "bin" / "python"
    constraints = ROOT / "requirements.txt"  # the tested versions (and torch's local CPU build)
    pip = (python, "-m", "pip", "install", "-c", constraints, *what)
    ok(sh(*pip, cwd=home, timeout=INSTALL_TIMEOUT_S))


def bin_(home: Path, name: str) -> Path:
    return home / "venv" / "bin" / name


@pytest.mark.slow
def test_the_wheel_holds_the_package_and_the_dashboard_only(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {n.split("/")[0] for n in names}
    assert tops == {"quantviz", f"{wheel.name.split('-py3')[0]}.dist-info"}
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "quantviz").rglob("*.py")}
    assert modules <= names, f"missing from the wheel: {sorted(modules - names)}"
    pages = {f"quantviz/_app/pages/{p.name}" for p in (ROOT / "pages").glob("*.py")}
    app = {"quantviz/_app/app.py", "quantviz/_app/.streamlit/config.toml", *pages}
    assert {n for n in names if n.startswith("quantviz/_app/")} == app
    assert wheel.name.startswith(f"quantviz-{qv.__version__}-")


@pytest.mark.slow
def test_the_installed_wheel_works_outside_the_clone(fresh_venv: Path) -> None:
    home = fresh_venv
    imported = "import quantviz; print(quantviz.__file__)"
    where = ok(sh(bin_(home, "python"), "-c", imported, cwd=home))
    assert Path(where.strip()).is_relative_to(home / "venv")
    assert ok(sh(bin_(home, "quantviz"), "--version", cwd=home)) == f"quantviz {qv.__version__}\n"
    helped = ok(sh(bin_(home, "quantviz"), "--help", cwd=home))
    assert "usage: quantviz" in helped
    assert all(cmd in helped for cmd in ("scan", "compare", "app"))

    g = torch.Generator().manual_seed(0)
    weights = {"layer.weight": torch.randn(64, 32, generator=g), "layer.bias": torch.zeros(64)}
    save_file(weights, str(home / "tiny.safetensors"))
    scanned = ok(sh(bin_(home, "quantviz"), "scan", "tiny.safetensors", cwd=home, timeout=300))
    assert "1 tensors scanned on cpu, 1 skipped" in scanned
    assert "layer.weight" in scanned

    # No streamlit in this environment yet: a message, not a traceback.
    no_app = sh(bin_(home, "quantviz"), "app", cwd=home)
    assert no_app.returncode == 1
    assert "pip install 'quantviz[app]'" in no_app.stderr
    assert "Traceback" not in no_app.stdout + no_app.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_and_check_health(home: Path) -> str:
    """Start ``quantviz app`` from ``home``, wait for its health check, stop it; its stderr."""
    port = free_port()
    log = home / f"app-{port}.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [
                *(str(bin_(home, "quantviz")), "app", "--server.port", str(port)),
                *("--server.headless", "true", "--server.address", "127.0.0.1"),
            ],
            cwd=home,
            env=clean_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + APP_START_TIMEOUT_S
            health = ""
            while time.monotonic() < deadline and proc.poll() is None and health != "ok":
                time.sleep(0.5)
                try:
                    url = f"http://127.0.0.1:{port}/_stcore/health"
                    with urllib.request.urlopen(url, timeout=2) as reply:
                        health = reply.read().decode()
                except OSError:
                    pass
            assert health == "ok", f"no health check answer; the app said:\n{log.read_text()}"
        finally:
            proc.terminate()  # quantviz app *is* streamlit (exec): this stops the server
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)
    return log.read_text()


@pytest.fixture(scope="module")
def with_app_extra(fresh_venv: Path, wheel: Path) -> Path:
    pip_install(fresh_venv, f"{wheel}[app]")
    return fresh_venv


@pytest.mark.slow
def test_a_wheel_install_with_the_app_extra_serves_the_dashboard(with_app_extra: Path) -> None:
    said = start_and_check_health(with_app_extra)
    assert "starting the dashboard from " in said
    started_from = Path(said.split("starting the dashboard from ")[1].splitlines()[0])
    assert started_from.name == "_app"
    assert started_from.is_relative_to(with_app_extra / "venv")


@pytest.mark.slow
def test_an_editable_install_serves_the_clones_dashboard(with_app_extra: Path) -> None:
    pip_install(with_app_extra, "-e", f"{ROOT}[app]")
    said = start_and_check_health(with_app_extra)
    assert f"starting the dashboard from {ROOT}\n" in said

"""The built wheel works on its own: installed into a fresh venv outside the checkout, `thoughtmill demo`
runs and `thoughtmill.curation` imports, with the bundled configs found as package data.

The wheel is built from a copy of the tracked files (so nothing the checkout has lying around can leak
in) and installed with ``--no-deps``; its third-party dependencies come from the test environment through
a path entry, so the test needs no network, and everything of thoughtmill's own comes from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_in_the_wheel_list() -> None:
    """pyproject lists the packages by hand (the package-dir mapping needs it): a new folder must be there."""
    tomllib = pytest.importorskip("tomllib")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        "thoughtmill." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("curation", "execution", "training", "eval")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert sorted(found - listed) == [], "package folders missing from [tool.setuptools] packages"
    assert sorted(listed - found - {"thoughtmill", "thoughtmill.configs"}) == [], (
        "listed packages that do not exist"
    )


def _tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if line and (ROOT / line).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files are the project's")
    src = tmp_path_factory.mktemp("src")
    for rel in _tracked_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = dist.glob("thoughtmill-*.whl")
    return built


@pytest.mark.slow
def test_wheel_holds_one_top_level_package_and_its_configs(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"thoughtmill"}
    for needed in (
        "thoughtmill/py.typed",
        "thoughtmill/curation/cli.py",
        "thoughtmill/execution/sandbox.py",
        "thoughtmill/eval/cli.py",
        "thoughtmill/training/recipes.py",
        "thoughtmill/configs/demo.yaml",
        "thoughtmill/configs/demo/recorded_traces.jsonl",
        "thoughtmill/configs/teachers/deepseek-r1.yaml",
        "thoughtmill/configs/training/tiny-cpu.yaml",
    ):
        assert needed in names, f"{needed} missing from the wheel"
    assert not [n for n in names if "/testing/" in n or n.startswith("tests/")], (
        "test doubles ship in the wheel"
    )
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # the dependencies (datasets, aiohttp, ...) from this environment; never the checkout itself
    deps = Path(sysconfig.get_paths()["purelib"])
    (Path(site) / "_test_dependencies.pth").write_text(f"{deps}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return env_dir


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


@pytest.mark.slow
def test_installed_wheel_imports_from_itself(installed: Path, tmp_path: Path) -> None:
    code = (
        "import thoughtmill, thoughtmill.curation as c; from thoughtmill.curation import LLM; "
        "from thoughtmill.curation.engine.config import load_teacher; "
        "t = load_teacher('deepseek-r1'); "
        "print(thoughtmill.__file__); print(c.__file__); print(t.model); print(thoughtmill.__version__)"
    )
    proc = subprocess.run(
        [str(installed / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_clean_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    top, curation, model, version = proc.stdout.split()
    for path in (top, curation):
        assert Path(path).is_relative_to(installed), f"{path} is not from the installed wheel"
        assert not Path(path).is_relative_to(ROOT)
    assert model and version != "0+unknown"


@pytest.mark.slow
def test_installed_wheel_runs_the_demo(installed: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(installed / "bin" / "thoughtmill"), "demo", "--run-dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_clean_env(),
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert (tmp_path / "demo" / "output" / "README.md").is_file()
    assert "verified set:" in proc.stdout
    version = subprocess.run(
        [str(installed / "bin" / "thoughtmill"), "--version"],
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    assert version.stdout.strip().startswith("thoughtmill ")

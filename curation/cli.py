"""The ``thoughtmill`` command: the pipeline (run, status, demo, per-stage commands), plus the
evaluator (``thoughtmill eval``) and the training hand-off (``thoughtmill train``) mounted lazily, so a
broken sub-app can never break ``thoughtmill run``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import typer
from thoughtmill.curation.engine.cache_cli import app as cache_app
from thoughtmill.curation.errors import CurationError

from thoughtmill.resources import bundled_config

app = typer.Typer(
    help="Turn a pile of questions into a verified reasoning-training set (the OpenThoughts recipe).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

app.add_typer(cache_app, name="cache")
DEMO_CONFIG = bundled_config("demo.yaml")


def _print_version(value: bool) -> None:
    if value:
        import thoughtmill

        typer.echo(f"thoughtmill {thoughtmill.__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="print the version and exit"
    ),
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="more log lines: -v info, -vv debug (default: warnings)"
    ),
) -> None:
    """Turn a pile of questions into a verified reasoning-training set (the OpenThoughts recipe)."""
    if verbose:
        logging.getLogger().setLevel(logging.INFO if verbose == 1 else logging.DEBUG)


OVERRIDES = typer.Argument(None, help="dotted overrides, e.g. stages.generate.teacher=deepseek-r1")
RUN_DIR = typer.Option(
    None, "--run-dir", help="the run directory (= run_dir=...; default: the config's run_dir)"
)
FORCE = typer.Option([], "--force", help="re-run this stage even if it finished (repeatable)")
UNSAFE = typer.Option(
    False,
    "--unsafe-weak-isolation",
    help="judge code even where the sandbox cannot isolate it (no bubblewrap, no user namespaces): "
    "the solutions may then read this machine's environment and files (= "
    "stages.verify.code.unsafe_weak_isolation=true)",
)


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", fg="red", err=True)
    return typer.Exit(code=1)


def _run(
    config_path: Path,
    overrides: list[str] | None,
    until: str | None,
    force: list[str],
    unsafe: bool = False,
    run_dir: str | None = None,
) -> None:
    import datasets
    from thoughtmill.curation.pipeline.config import load_config
    from thoughtmill.curation.pipeline.runner import run_pipeline
    from thoughtmill.curation.pipeline.summary import print_summary
    from thoughtmill.execution.errors import SandboxUnavailable

    datasets.disable_progress_bars()
    if unsafe:
        overrides = [*(overrides or []), "stages.verify.code.unsafe_weak_isolation=true"]
    if run_dir is not None:  # the flag and run_dir= are one setting; an explicit override still wins
        overrides = [f"run_dir={run_dir}", *(overrides or [])]
    try:
        config = load_config(config_path, overrides or [])
        report = run_pipeline(config, until=until, force=force, echo=typer.echo)
        print_summary(config, report)
    except (CurationError, SandboxUnavailable) as exc:  # the sandbox says what is missing and the way out
        raise _fail(exc) from exc
    except KeyboardInterrupt:
        typer.echo("interrupted: run the same command again to resume", err=True)
        raise typer.Exit(code=130) from None


@app.command()
def run(
    config: Path = typer.Argument(..., help="pipeline YAML (or a run directory: its config.yaml)"),
    overrides: list[str] = OVERRIDES,
    force: list[str] = FORCE,
    unsafe_weak_isolation: bool = UNSAFE,
    run_dir: str = RUN_DIR,
) -> None:
    """Run the whole pipeline; running it again resumes (finished stages are skipped)."""
    _run(config, overrides, None, force, unsafe_weak_isolation, run_dir)


@app.command()
def demo(
    run_dir: str = typer.Option("runs/demo", help="where the demo run lives"),
    overrides: list[str] = OVERRIDES,
    unsafe_weak_isolation: bool = UNSAFE,
) -> None:
    """The embedded default: ~40 problems, recorded teacher answers, offline, no API key."""
    _run(DEMO_CONFIG, overrides, None, [], unsafe_weak_isolation, run_dir)


@app.command()
def sources(
    config: Path = typer.Argument(...),
    overrides: list[str] = OVERRIDES,
    force: list[str] = FORCE,
    run_dir: str = RUN_DIR,
) -> None:
    """Load the sources, deduplicate and decontaminate (the problem set)."""
    _run(config, overrides, "decontaminate", force, run_dir=run_dir)


@app.command()
def generate(
    config: Path = typer.Argument(...),
    overrides: list[str] = OVERRIDES,
    force: list[str] = FORCE,
    run_dir: str = RUN_DIR,
) -> None:
    """Generate teacher traces (runs the problem stages first when they are not done)."""
    _run(config, overrides, "generate", force, run_dir=run_dir)


@app.command()
def verify(
    config: Path = typer.Argument(...),
    overrides: list[str] = OVERRIDES,
    force: list[str] = FORCE,
    unsafe_weak_isolation: bool = UNSAFE,
    run_dir: str = RUN_DIR,
) -> None:
    """Verify generated traces (code in the sandbox, math, puzzles, science)."""
    _run(config, overrides, "verify", force, unsafe_weak_isolation, run_dir)


@app.command()
def export(
    config: Path = typer.Argument(...),
    overrides: list[str] = OVERRIDES,
    force: list[str] = FORCE,
    unsafe_weak_isolation: bool = UNSAFE,
    run_dir: str = RUN_DIR,
) -> None:
    """Write the verified and unverified sets and the dataset card."""
    _run(config, overrides, "card", force, unsafe_weak_isolation, run_dir)


@app.command()
def status(
    run_dir: Path = typer.Argument(..., help="a run directory"),
    as_json: bool = typer.Option(False, "--json"),
    watch: bool = typer.Option(False, "--watch", help="redraw until the run stops (Ctrl-C to leave)"),
    interval: float = typer.Option(2.0, "--interval", help="seconds between redraws with --watch"),
) -> None:
    """Where a run stands: each stage's state, rows done/total, ETA, cost so far, the last error."""
    import time

    from thoughtmill.curation.pipeline.status import format_status, status_view

    while True:
        try:
            view = status_view(run_dir)
        except CurationError as exc:
            raise _fail(exc) from exc
        if as_json:
            typer.echo(json.dumps(view, indent=2, default=str))
        else:
            if watch and sys.stdout.isatty():
                typer.echo("\x1b[2J\x1b[H", nl=False)  # clear the screen, cursor home
            typer.echo("\n".join(format_status(view)))
        if not watch or (view.get("run") or {}).get("status") != "running":
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            raise typer.Exit(code=0) from None
        if not sys.stdout.isatty():
            typer.echo("")


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="a run directory (finished, interrupted or running)"),
    output: Path = typer.Option(None, "--output", "-o", help="where to write (default RUN_DIR/report.html)"),
) -> None:
    """Write the run report: one self-contained HTML page with plots (opens offline)."""
    from thoughtmill.curation.report import write_report

    try:
        path = write_report(run_dir, output)
    except CurationError as exc:
        raise _fail(exc) from exc
    typer.echo(f"run report: {path}")


def _mount(name: str, module: str) -> None:
    """Mount a sub-app; if it cannot be imported, a stub command says why instead of breaking the CLI."""
    try:
        sub = __import__(module, fromlist=["app"]).app
    except Exception as exc:  # a broken optional part must not take the pipeline down
        reason = f"{type(exc).__name__}: {exc}"

        def broken(args: list[str] = typer.Argument(None)) -> None:
            typer.secho(
                f"error: 'thoughtmill {name}' is unavailable ({module} failed to import: {reason})", err=True
            )
            raise typer.Exit(code=1)

        app.command(name, help=f"(unavailable: {reason})", context_settings={"allow_extra_args": True})(
            broken
        )
        return
    app.add_typer(sub, name=name)


def _wanted_subapp(argv: list[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in ("eval", "train") else None
    return None


def main(argv: list[str] | None = None) -> Any:
    """Console entry point. Sub-apps are imported only when asked for (or for --help)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    wanted = _wanted_subapp(argv)
    if wanted or not argv or argv[0] in ("--help", "-h"):
        _mount("eval", "thoughtmill.eval.cli")
        _mount("train", "thoughtmill.training.cli")
    return app(args=argv, prog_name="thoughtmill")


if __name__ == "__main__":
    main()

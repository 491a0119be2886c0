"""``compass``: the command line for data scientists, on top of every layer.

simulate -> train (gate included) -> promote -> export (into the BentoML model store); batch
scoring, the prediction log and the outcomes of launched concepts; the benchmarks. Commands are
thin: each calls one function of the layer below and turns its errors into a message and an
exit status. While a command works, its own lines go to the console and the libraries' to a log
file in the state folder (``core.console``); stdout carries only its answer.

Help is plain text (``rich_markup_mode=None``): rich's markup mode kept each docstring's line
breaks in the commands table, cutting sentences mid-line. A command's docstring opens with one
short sentence (the commands table shows it) and a blank line.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from core import console
from core.settings import REPO_ROOT, set_verbose, settings
from training import DEFAULT_SPEC

HELP = """Hit Compass for data scientists: train, tune, promote and export models of a launch
history, score files of concepts, record outcomes, monitor, and run the benchmarks.

simulate -> train (the promotion gate included) -> promote -> export (into the BentoML model
store, for the service). Libraries' warnings and INFO lines go to a log file in the state
folder (each command prints its path), or to the console with --verbose."""

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=HELP,
    rich_markup_mode=None,
    context_settings={"max_content_width": 100},
)
bench_app = typer.Typer(
    no_args_is_help=True,
    help="Benchmarks: quality, intervals, forecasts, speed.",
    rich_markup_mode=None,
)
app.add_typer(bench_app, name="bench")

SpecOpt = Annotated[
    Path,
    typer.Option(
        "--spec",
        help=f"Dataset spec (YAML; default: {DEFAULT_SPEC.relative_to(REPO_ROOT)}).",
        show_default=False,
    ),
]
# one registered model per launch history (scoring.store.model_name_for)
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        help="Registered model, as `compass train` names it (default: hit-compass, the "
        "simulator's; another spec's: hit-compass-<spec name>).",
        show_default=False,
    ),
]


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


def _write_json(out: Path, result: dict[str, Any]) -> None:
    """A benchmark's JSON file (its folder made if missing)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


def main() -> None:
    """The ``compass`` command (``python -m compass.cli`` too)."""
    console.quiet_libraries()
    _hide_pyspark()
    app()


@app.callback()
def _options(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            help="Show the libraries' warnings, INFO lines and output here instead of in the "
            "log file (HIT_COMPASS_VERBOSE=1 does the same).",
        ),
    ] = False,
) -> None:
    if verbose:
        set_verbose()


@contextlib.contextmanager
def _working(command: str) -> Iterator[console.Console]:
    """While a command works: its own lines on the console (stderr); what libraries, C code and
    child processes (the tuning workers) print, to a log file in the state folder, or with
    --verbose to stderr; stdout carries only the answer printed after it, for scripts to read
    (`make serve` reads the served tag so)."""
    with console.quiet(console.log_file(command), verbose=settings().verbose) as con:
        yield con


def _hide_pyspark() -> None:
    """pandera (``pandera.pandas``) imports ``pyspark.pandas`` whenever pyspark is installed and
    MLflow imports ``pyspark`` in several modules: PySpark's pandas FutureWarning and its import
    time on every command's start, for commands that never use Spark. Both take a failed
    import for pyspark being absent (as in the service's environment, which has no pyspark):
    a None in ``sys.modules`` fails it until a command uses Spark (:func:`_unhide_pyspark`)."""
    sys.modules.setdefault("pyspark", None)  # type: ignore[arg-type]


def _unhide_pyspark() -> None:
    if "pyspark" in sys.modules and sys.modules["pyspark"] is None:
        del sys.modules["pyspark"]


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """A mistake in what was given (a spec, a data file, a column) ends the command with its
    message and exit status 1, not a traceback."""
    import yaml
    from pydantic import ValidationError

    from core.settings import SettingsError
    from features.tables import TableError
    from scoring.prediction_log import LogError
    from training.dataset import SpecError

    errors = (TableError, SpecError, FileNotFoundError, ValidationError, yaml.YAMLError)
    try:
        yield
    except (*errors, SettingsError, LogError) as exc:
        from features.spec import validation_summary

        message = validation_summary(exc) if isinstance(exc, ValidationError) else exc
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(1) from None


@app.command()
def simulate(
    n: Annotated[int, typer.Option(help="Number of launches.", min=1)] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    out: Annotated[Path, typer.Option("-o", "--out", help="Parquet file to write.")] = Path(
        "launches.parquet"
    ),
) -> None:
    """Simulate a launch history.

    Each launch comes with its exact Bayes-optimal hit probability (p_hit_bayes)."""
    from features.simulator import simulate as run

    frame = run(n, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    # microsecond timestamps: Spark (`compass score --engine spark`) refuses pandas' nanoseconds
    frame.to_parquet(out, index=False, coerce_timestamps="us")
    typer.echo(f"{out}: {len(frame)} launches, hit rate {frame['hit'].mean():.3f}")


@app.command()
def train(
    data: Annotated[Path | None, typer.Option(help="CSV/Parquet launch history.")] = None,
    spec: SpecOpt = DEFAULT_SPEC,
    params: Annotated[
        Path | None, typer.Option(help="JSON of LightGBM params (default: tuned, if any).")
    ] = None,
    gate: Annotated[bool, typer.Option(help="Run the promotion gate after registering.")] = True,
    force: Annotated[bool, typer.Option(help="Promote even if the gate says no.")] = False,
    with_outcomes: Annotated[
        bool,
        typer.Option(
            help="Add the scored concepts whose outcomes were recorded (inputs as submitted, "
            "label from the outcome) to the launch history."
        ),
    ] = False,
) -> None:
    """Train, register and gate a model.

    Trains on the launch history, evaluates on its newest launches (out of time), logs the run
    and its report to MLflow, registers the version and runs the promotion gate. Each stage is
    reported with its seconds, then the result and where to look; stdout carries the result as
    JSON."""
    from training.pipeline import result_lines, run_training

    with _user_errors(), _working("train") as con:
        result = run_training(
            data=data,
            spec_path=spec,
            params_path=params,
            gate=gate,
            force=force,
            with_outcomes=with_outcomes,
            say=con.say,
            status=con.status,
        )
        for line in result_lines(result):
            con.say(line)
    shown = {k: v for k, v in result.items() if k not in ("train_result", "stages", "data_notes")}
    _echo_json(shown | {"stages": {k: round(v, 2) for k, v in result["stages"].seconds.items()}})


@app.command()
def tune(
    data: Annotated[Path | None, typer.Option(help="CSV/Parquet launch history.")] = None,
    spec: SpecOpt = DEFAULT_SPEC,
    trials: Annotated[
        int | None, typer.Option("--trials", min=1, help="Number of trials (this run).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=1, help="Budget in seconds (this run).")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue (or join) the study.")] = False,
    study: Annotated[
        str | None, typer.Option("--study", help="Study name (default: <spec>-blend).")
    ] = None,
    report_test: Annotated[
        bool, typer.Option(help="Then train once with the best params and report the test.")
    ] = True,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Study storage shared by workers and machines: postgresql://user:pw@host/db "
            "(default: state/optuna.db, SQLite, one worker)."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Worker processes on this machine, each with the --trials/--timeout budget."
        ),
    ] = 1,
) -> None:
    """Tune the params with Optuna on out-of-time CV.

    Optuna's TPE searches LightGBM's params and the blend's linear part (C, half-lives), each
    trial judged on out-of-time cross-validation; the best params go to
    state/best_params-<spec name>.json, which `compass train` on that spec uses. Without
    --resume an existing study of that name starts over; with --resume and the same --storage,
    a command on another machine joins the study. Each trial is reported as it ends; stdout
    carries the result as JSON."""
    from features.spec import load_spec
    from training.dataset import load_launches
    from training.tune import TuneError, study_storage
    from training.tune import tune as run

    if trials is None and timeout is None:
        raise typer.BadParameter("give a budget: --trials N and/or --timeout SECONDS")
    try:
        with _user_errors(), _working("tune") as con:
            dataset = load_spec(spec)
            loaded = load_launches(dataset, data, spec_dir=spec.parent)
            for note in loaded.notes:
                con.say(f"warning: {note}")
            result = run(
                loaded.frame,
                dataset,
                n_trials=trials,
                timeout=timeout,
                resume=resume,
                study_name=study,
                storage=study_storage(storage) if storage else None,
                report_test=report_test,
                workers=workers,
                say=con.say,
            )
    except TuneError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _echo_json(
        {
            "study": result.study.study_name,
            "trials_this_run": result.n_trials_this_run,
            "trials_total": result.n_trials_total,
            "best_cv_logloss": result.best_value,
            "best_params": result.best_params,
            "best_blend": result.best_blend,
            "test_with_best_params": result.test,
            "written": str(result.params_path),
        }
        | ({"workers": [asdict(w) for w in result.workers]} if result.workers else {})
    )


@bench_app.command("quality")
def bench_quality(
    out: Annotated[Path, typer.Option("-o", "--out", help="JSON file to write.")] = Path(
        "quality.json"
    ),
    sim_rows: Annotated[int, typer.Option(help="Simulated launches.", min=500)] = 20_000,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
    video_games_data: Annotated[
        Path | None, typer.Option(help="Video games CSV (default: the spec's source).")
    ] = None,
    product_hunt_data: Annotated[
        Path | None, typer.Option(help="Product Hunt CSV (default: the spec's source).")
    ] = None,
    tune_trials: Annotated[
        int, typer.Option(help="Optuna trials per dataset first (0 = config.yaml params).")
    ] = 0,
    ablation: Annotated[bool, typer.Option(help="Run the feature-family ablation.")] = True,
) -> None:
    """The model against baselines and the Bayes limit.

    On simulated, video-game and Product Hunt launches (there also without its text) -> JSON."""
    from benchmarks.quality import markdown_tables, run_benchmark

    with _user_errors():  # a missing data file: its message, not a traceback
        result = run_benchmark(
            sim_rows=sim_rows,
            sim_seed=seed,
            video_games_data=video_games_data,
            product_hunt_data=product_hunt_data,
            tune_trials=tune_trials,
            with_ablation=ablation,
        )
    _write_json(out, result)
    for name in ("simulated", "video_games", "product_hunt"):
        m = result[name]["model"]
        typer.echo(
            f"{name}: AUC {m['auc']:.4f} {m['auc_ci']} log loss {m['logloss']:.4f} "
            f"ECE {m['ece']:.4f}  targets {result[name]['targets']}"
        )
    typer.echo(markdown_tables(result))
    typer.echo(f"{out} written in {result['seconds_total']:.0f} s")


@bench_app.command("compare")
def bench_compare(
    out: Annotated[Path, typer.Option("-o", "--out", help="JSON file to write.")] = Path(
        "compare.json"
    ),
    sim_rows: Annotated[int, typer.Option(help="Simulated launches.", min=1000)] = 20_000,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
    list_size: Annotated[int, typer.Option(help="Concepts per compared list.", min=2)] = 10,
) -> None:
    """The intervals and pairs of /compare against Bayes.

    On out-of-time simulated concepts, against the simulator's Bayes probability: coverage,
    width by group, pairwise ECE, cost -> JSON."""
    from benchmarks import compare as bench

    with _user_errors():  # a missing data file: its message, not a traceback
        result = bench.run(sim_rows=sim_rows, seed=seed, list_size=list_size)
    _write_json(out, result)
    typer.echo(bench.markdown(result))
    typer.echo(f"{out} written in {result['seconds_total']:.0f} s")


def _whole_numbers(text: str, option: str) -> list[int]:
    """An option's comma-separated whole numbers (at least one), or a usage error naming it."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"{option}: comma-separated whole numbers") from None
    if not values:
        raise typer.BadParameter(f"{option}: at least one number")
    return values


@bench_app.command("interval-scales")
def bench_interval_scales(
    out: Annotated[Path, typer.Option("-o", "--out", help="JSON file to write.")] = Path(
        "interval_scales.json"
    ),
    seeds: Annotated[
        str, typer.Option(help="Comma-separated simulator seeds (keep bench compare's 7 out).")
    ] = "3,5,11,13,17",
    sim_rows: Annotated[int, typer.Option(help="Simulated launches per seed.", min=1000)] = 20_000,
    list_size: Annotated[int, typer.Option(help="Concepts per compared list.", min=2)] = 10,
) -> None:
    """Fit the interval's scales against Bayes.

    On simulated histories: the values for training/config.yaml's `interval` section -> JSON."""
    from benchmarks import compare as bench

    seed_list = _whole_numbers(seeds, "--seeds")
    with _user_errors():
        result = bench.fit_scales(
            seed_list,
            sim_rows=sim_rows,
            list_size=list_size,
            say=lambda m: typer.echo(m, err=True),
        )
    _write_json(out, result)
    typer.echo(
        f"interval.scale: {result['scale']} (pooled coverage {result['coverage_at_scale']})\n"
        f"interval.pair_scale: {result['pair_scale']} (pair log loss {result['pair_log_loss']})"
    )
    for seed, one in result["per_seed"].items():
        typer.echo(
            f"  seed {seed}: coverage {one['coverage_at_scale']} at that scale; alone it needs "
            f"{one['scale_for_level']}"
        )
    typer.echo(f"{out} written in {result['seconds_total']:.0f} s")


@bench_app.command("train")
def bench_train(
    out: Annotated[Path, typer.Option("-o", "--out", help="JSON file to write.")] = Path(
        "train.json"
    ),
    sizes: Annotated[
        str, typer.Option(help="Comma-separated numbers of simulated launches.")
    ] = "20000,200000,1000000",
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
) -> None:
    """How `compass train` grows with the history.

    Per size: wall time, peak memory, seconds per stage and test quality, each size simulated
    and trained in fresh processes -> JSON."""
    from benchmarks import train as bench

    ns = _whole_numbers(sizes, "--sizes")
    if min(ns) < 1000:
        raise typer.BadParameter("--sizes: each at least 1000 launches")
    with _user_errors():  # a missing data file: its message, not a traceback
        result = bench.run(ns, seed=seed, say=lambda m: typer.echo(m, err=True))
    _write_json(out, result)
    typer.echo(bench.markdown(result))
    typer.echo(f"{out} written in {result['seconds_total']:.0f} s")


@bench_app.command("forecast")
def bench_forecast(
    out: Annotated[Path, typer.Option("-o", "--out", help="JSON file to write.")] = Path(
        "forecast.json"
    ),
    sim_rows: Annotated[int, typer.Option(help="Simulated launches.", min=2000)] = 20_000,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
) -> None:
    """The GMV curve against the exact quantiles.

    On out-of-time simulated launches at 1, 3, 6 and 12 months: coverage of the 80 % band,
    P50's median APE, pinball loss against the simulator's exact quantiles and a category
    baseline -> JSON."""
    from benchmarks import forecast as bench

    with _user_errors():  # a missing data file: its message, not a traceback
        result = bench.run(sim_rows, seed, say=lambda m: typer.echo(m, err=True))
    _write_json(out, result)
    typer.echo(bench.markdown(result))
    typer.echo(f"{out} written in {result['seconds']['total']:.0f} s")


@bench_app.command("serve")
def bench_serve(
    out: Annotated[Path, typer.Option("-o", "--out", help="JSON file to write.")] = Path(
        "serve.json"
    ),
    duration: Annotated[
        float, typer.Option(help="Seconds per wrk run (each server, each load).", min=1)
    ] = 10.0,
    soak: Annotated[
        bool, typer.Option(help="Instead: the soak (32 connections; errors, RSS growth).")
    ] = False,
    soak_seconds: Annotated[float, typer.Option(help="Soak length.", min=1)] = 60.0,
    text_only: Annotated[
        bool,
        typer.Option(
            help="Instead: only the in-process cost of a concept with words (Product Hunt), "
            "written into OUT's text_concept, the rest of OUT kept."
        ),
    ] = False,
) -> None:
    """The service against a no-op one and MLflow's.

    This service vs a no-op BentoML service vs `mlflow models serve`, all driven by wrk on
    127.0.0.1 -> JSON (the targets are reported, not asserted)."""
    from benchmarks import serve as bench

    if text_only:
        text = bench.text_concept(say=lambda m: typer.echo(m, err=True))
        kept = json.loads(out.read_text()) if out.exists() else {}
        _write_json(out, kept | {"text_concept": text})
        typer.echo(bench.text_summary(text))
        typer.echo(f"{out} written (text_concept)")
        return
    with _user_errors():  # a missing data file: its message, not a traceback
        result = bench.soak(duration_s=soak_seconds) if soak else bench.run(duration)
    _write_json(out, result)
    typer.echo(bench.summary(result, soak))
    typer.echo(f"{out} written")


@bench_app.command("loop")
def bench_loop(
    out: Annotated[Path, typer.Option("-o", "--out", help="JSON file to write.")] = Path(
        "loop.json"
    ),
    scale: Annotated[
        str,
        typer.Option(
            help="full (the numbers in docs/benchmarks.md) or small (minutes: mechanics only)."
        ),
    ] = "full",
) -> None:
    """The outcomes loop, end to end, on the simulator.

    Through the real commands and a real `bentoml serve`: train -> serve -> score cohort 1 ->
    record its outcomes -> monitor -> retrain with outcomes -> gate -> reload -> score cohort 2;
    without and with a drifted world -> JSON."""
    from benchmarks import loop

    if scale not in loop.SCALES:
        raise typer.BadParameter(f"--scale must be one of {', '.join(loop.SCALES)}")
    with _user_errors():  # a missing data file: its message, not a traceback
        result = loop.run(scale, say=lambda m: typer.echo(m, err=True))
    _write_json(out, result)
    typer.echo(loop.markdown(result))
    typer.echo(f"{out} written")


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Registered model version.")],
    force: Annotated[bool, typer.Option(help="Override the gate (recorded as forced).")] = False,
    model: ModelOpt = "hit-compass",
) -> None:
    """Promote VERSION if it beats the champion.

    VERSION becomes the champion if it beats the current one on the same test set."""
    from training.promote import promote as run
    from training.train import load_config

    decision = run(version, load_config().promotion, force=force, model_name=model)
    _echo_json(decision)
    if not decision["promoted"]:
        raise typer.Exit(1)


@app.command()
def export(
    version: Annotated[
        str | None, typer.Option(help="Version to export (default: champion).")
    ] = None,
    reload_url: Annotated[
        str | None,
        typer.Option(
            help="Running service to reload after the export ('' = don't; default: the "
            "HIT_COMPASS_URL setting).",
        ),
    ] = None,
    model: ModelOpt = "hit-compass",
) -> None:
    """Export a version for the service and reload it.

    Copies the version (default: the champion) into the BentoML model store, publishes it for
    every service worker and replica sharing the state, then asks the running service to load
    it now (POST /admin/reload; nothing happens if none is running). Prints the store tag."""
    from scoring.prediction_log import PredictionLog, shown
    from scoring.served import ServedModels
    from serving.reload import notify

    with _working("export"):
        tag = _export(version, model)
    typer.echo(tag)
    url = settings().service_url if reload_url is None else reload_url
    if url:
        log = PredictionLog()
        try:
            ServedModels(log).publish(model, tag)
        finally:
            log.close()
        typer.echo(f"published {tag} for every service worker sharing {shown(log.location)}")
        typer.echo(notify(url, tag))


def _export(version: str | None, model: str = "hit-compass") -> str:
    from training import registry

    try:
        return registry.export_version(version, model)
    except registry.NoChampion as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command("ensure-champion")
def ensure_champion(spec: SpecOpt = DEFAULT_SPEC) -> None:
    """For `make serve`: a champion, exported.

    Trains a champion if the spec has none (the embedded default simulates its launch history
    first) and exports it into the BentoML model store. The tag is the only line on stdout;
    progress goes to stderr, the libraries' output to a log file."""
    from training.pipeline import ensure_champion as ensure

    with _user_errors(), _working("ensure-champion") as con:
        model_name, version = ensure(spec, say=con.say, status=con.status)
        tag = _export(version, model_name)
        con.say(f"serving {tag} (BENTOML_HOME={os.environ.get('BENTOML_HOME')})")
    typer.echo(tag)


class Engine(StrEnum):
    process = "process"
    spark = "spark"


@app.command()
def score(
    concepts: Annotated[
        str,
        typer.Argument(
            help="CSV or Parquet of concepts (API fields); --engine spark: a Parquet file or "
            "folder, any path or URI Spark reads."
        ),
    ],
    out: Annotated[
        str,
        typer.Option(
            "-o", "--out", help="CSV or Parquet to write; --engine spark: a Parquet folder."
        ),
    ] = "scored.csv",
    version: Annotated[
        str | None, typer.Option(help="Registered version (default: champion).")
    ] = None,
    log: Annotated[
        bool | None,
        typer.Option(
            "--log/--no-log",
            help="Append every scored row to the log (default: yes; --engine spark: never).",
        ),
    ] = None,
    model: ModelOpt = "hit-compass",
    engine: Annotated[
        Engine,
        typer.Option(help="process: this one Python process; spark: a Spark job (PySpark)."),
    ] = Engine.process,
    spark_master: Annotated[
        str | None,
        typer.Option(help="--engine spark: e.g. local[2] (default: spark-submit's, or local[*])."),
    ] = None,
) -> None:
    """Score a file of concepts like POST /score.

    The answers are flattened to columns; every input row is kept (invalid rows get an `error`
    naming row and column, and exit status 1)."""
    from scoring.batch import score_file
    from scoring.prediction_log import PredictionLog
    from scoring.scorer import Scorer
    from training import registry

    if engine is Engine.spark and log:
        # executors cannot reach the local SQLite log (scoring/spark.py, README)
        raise typer.BadParameter("--engine spark writes no prediction log", param_hint="--log")
    if engine is not Engine.spark and spark_master:
        raise typer.BadParameter("only with --engine spark", param_hint="--spark-master")
    version = version or registry.champion_version(model)
    if version is None:
        raise typer.BadParameter(f"no champion of {model} yet: run `compass train` first")
    if engine is Engine.spark:
        report = _score_on_spark(concepts, out, version, model, spark_master)
    else:
        hit_model, _ = registry.load_version(version, model)
        with _user_errors():
            plog = PredictionLog() if log is not False else None
            report = score_file(Path(concepts), Path(out), Scorer(hit_model, version), plog)
    for note in report.notes:
        typer.echo(note)
    typer.echo(
        f"{out}: {report.scored} of {report.rows} concepts scored with model version "
        f"{version} (request id {report.request_id})"
    )
    for msg in report.errors[:20]:
        typer.echo(msg, err=True)
    if report.invalid:
        typer.echo(f"{report.invalid} invalid row(s): see the error column", err=True)
        raise typer.Exit(1)


@app.command()
def compare(
    concepts: Annotated[
        Path, typer.Argument(help="CSV or Parquet of 2 to 100 concepts (the columns of `score`).")
    ],
    out: Annotated[
        Path, typer.Option("-o", "--out", help="CSV or Parquet: the ranking, best first.")
    ] = Path("compared.csv"),
    answer: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the whole answer (every pair, every field)."),
    ] = None,
    pair: Annotated[
        list[str] | None,
        typer.Option(
            "--pair", help="A,B: compare concept A with B (repeatable; default: each vs the top)."
        ),
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="Registered version (default: champion).")
    ] = None,
    log: Annotated[
        bool, typer.Option("--log/--no-log", help="Append the compared concepts to the log.")
    ] = True,
    model: ModelOpt = "hit-compass",
) -> None:
    """Rank a file of concepts, as POST /compare does.

    Per concept: probability, interval and band; P(truly beats the top), too close to call, and
    the fields that make the difference. Invalid rows keep their place with an `error`, and the
    exit status is 1."""
    from scoring.compare import compare_file, write_ranking
    from scoring.prediction_log import PredictionLog
    from scoring.scorer import BadRequest, Scorer
    from training import registry

    pairs = None
    if pair:
        pairs = [tuple(p.split(",", 1)) for p in pair]
        if any(len(p) != 2 or not all(p) for p in pairs):
            raise typer.BadParameter("each --pair is two concept ids: A,B", param_hint="--pair")
    version = version or registry.champion_version(model)
    if version is None:
        raise typer.BadParameter(f"no champion of {model} yet: run `compass train` first")
    hit_model, _ = registry.load_version(version, model)
    with _user_errors():
        plog = PredictionLog() if log else None
        try:
            compared = compare_file(concepts, Scorer(hit_model, version), plog, pairs)
        except BadRequest as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        write_ranking(compared.table, out)
    result, errors = compared.answer, compared.errors
    for note in compared.notes:
        typer.echo(note)
    for msg in list(errors.values())[:20]:
        typer.echo(msg, err=True)
    if result is None:
        typer.echo(f"error: {concepts}: fewer than 2 valid concepts to compare", err=True)
        raise typer.Exit(1)
    if answer is not None:
        _write_json(answer, result)
    typer.echo(_ranking_text(result))
    typer.echo(f"{out}: {len(result['ranking'])} concepts ranked with model version {version}")
    if errors:
        typer.echo(f"{len(errors)} invalid row(s): see the error column", err=True)
        raise typer.Exit(1)


def _ranking_text(result: dict[str, Any]) -> str:
    """The ranking as a person reads it: rank, id, probability [interval], band, vs the top."""
    top = result["ranking"][0]["concept_id"]
    vs_top = {p["a"]: p for p in result["pairs"] if p["b"] == top}
    lines = []
    for r in result["ranking"]:
        iv = r["interval"]
        interval = f" [{100 * iv['low']:.1f}, {100 * iv['high']:.1f}]" if iv else ""
        line = f"{r['rank']:>3}. {r['concept_id']}: {100 * r['hit_probability']:.1f} %{interval}"
        line += f" {r['band'] or ''}"
        pair = vs_top.get(r["concept_id"])
        if pair is not None and pair["p_a_beats_b"] is not None:
            close = ", too close to call" if pair["too_close_to_call"] else ""
            line += f"; beats the top with probability {pair['p_a_beats_b']:.2f}{close}"
            line += f" (largest difference: {pair['why'][0]['field']})"
        lines.append(line)
    return "\n".join(lines)


def _score_on_spark(src: str, dst: str, version: str, model: str, master: str | None):
    """The registered version's native files, shipped to a Spark job (scoring/spark.py)."""
    import tempfile

    from training import registry

    _unhide_pyspark()
    from scoring import spark as bulk

    with tempfile.TemporaryDirectory() as tmp, _user_errors():
        model_dir, _ = registry.download_version(version, Path(tmp), model)
        return bulk.score_parquet(bulk.session(master), src, dst, model_dir, version)


log_app = typer.Typer(
    no_args_is_help=True,
    help="The prediction log.\n\nSQLite in the state folder, or HIT_COMPASS_DB_URL's PostgreSQL.",
    rich_markup_mode=None,
)
app.add_typer(log_app, name="log")


@log_app.command("export")
def log_export(
    out: Annotated[Path, typer.Option("-o", "--out", help="Parquet or CSV to write.")] = Path(
        "log.parquet"
    ),
) -> None:
    """Write the prediction log to a file.

    Every logged prediction (HTTP and batch), to a Parquet or CSV file."""
    from scoring.prediction_log import default_location, exists, export, shown

    with _user_errors():
        if not exists():
            raise typer.BadParameter(f"no prediction log at {shown(default_location())} yet")
        n = export(default_location(), out)
    typer.echo(f"{out}: {n} logged predictions")


outcomes_app = typer.Typer(
    no_args_is_help=True,
    help="Outcomes of launched concepts.\n\nWhat happened to them, beside the prediction log.",
    rich_markup_mode=None,
)
app.add_typer(outcomes_app, name="outcomes")


@outcomes_app.command("import")
def outcomes_import(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet of outcomes.")],
    model: ModelOpt = "hit-compass",
) -> None:
    """Record what happened to scored concepts.

    A file of outcomes, validated with the champion's spec: the id, the actual launch
    date, and the label and/or the raw outcome its target names (POST /outcomes takes the
    same). All or nothing: if any row is bad, every bad row is listed (row and field), nothing
    is recorded and the exit status is 1. Importing the same file again records nothing."""
    from scoring.outcomes import OutcomeError, OutcomeSchema, OutcomeStore, import_file
    from scoring.prediction_log import PredictionLog
    from training import registry

    version = registry.champion_version(model)
    if version is None:
        raise typer.BadParameter(f"no champion of {model} yet: run `compass train` first")
    hit_model, _ = registry.load_version(version, model)
    schema = OutcomeSchema(hit_model.concept_schema)
    with _user_errors():
        log = PredictionLog()
    try:
        with _user_errors():
            rows, receipt = import_file(file, schema, OutcomeStore(log))
    except OutcomeError as exc:
        typer.echo(f"error: {file}: {exc}", err=True)
        typer.echo(f"{file}: nothing recorded (fix the rows above and import it again)", err=True)
        raise typer.Exit(1) from None
    finally:
        log.close()
    typer.echo(
        f"{file}: {rows} rows: {receipt.recorded} recorded, {receipt.duplicates} already "
        f"recorded (ignored), {receipt.unmatched} id(s) never scored"
    )
    if receipt.unmatched_ids:
        shown = ", ".join(receipt.unmatched_ids[:10])
        more = f", ... ({receipt.unmatched - 10} more)" if receipt.unmatched > 10 else ""
        typer.echo(f"never scored (recorded all the same): {shown}{more}")


ALARM_EXIT = 3  # a threshold crossed: distinct from 1 (a mistake in the input) for schedulers


@app.command()
def monitor(
    model: ModelOpt = "hit-compass",
    version: Annotated[
        str | None, typer.Option(help="Registered version (default: champion).")
    ] = None,
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder for the report.")] = Path(
        "monitor"
    ),
) -> None:
    """Drift and live quality of a model version.

    Is the compass right? For one model version: input drift (PSI per field against its
    training data) and prediction drift of the concepts it scored, and, where outcomes came
    back, live AUC / log loss / Brier / ECE with intervals (overall and per launch quarter) and
    the go / refine / stop hit rates, next to its out-of-time test metrics. Writes
    OUT/monitor.md, OUT/monitor.json and plots, logs them as a run of the MLflow experiment
    hit-compass-monitoring, and leaves the summary for GET /monitor; exit status 3 when a
    threshold is crossed."""
    from training.monitor import NothingToMonitor, markdown, run_monitor

    try:
        summary = run_monitor(model, version, out)
    except NothingToMonitor as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(markdown(summary))
    typer.echo(f"{summary['paths']['report']} written; MLflow run {summary['mlflow_run_id']}")
    if summary["alarms"]:
        raise typer.Exit(ALARM_EXIT)


if __name__ == "__main__":
    main()

"""Benchmark of the bot pipeline against the public evaluation sets, beside the issue's floors.

Run from the project root: ``.venv/bin/python bench/bench_pipeline.py [--eval-dir DIR]``.
It sets up Django on a throwaway SQLite database, loads the demo taxonomy (which trains the
demo classifier), and runs ``evaluate_bot`` on:

- ``bitext_cs10.csv`` with the demo taxonomy: intent accuracy and escalation recall;
- ``banking77_test.csv`` with a throwaway model trained on ``banking77_train.csv``;
- ``clinc150_test.csv`` likewise, with ``--fallback-intent out_of_scope``;

and reports the offline decision time (p50/p99 per message, on the bitext run: the whole
``run_turn(respond=False)`` decision, the sentence embedding included), the time to train on
Banking77's 10,000 rows (embedding them included), and the resident memory the embedding model
adds to a process. Numerical libraries (and ONNX Runtime) are held to one thread, so the
figures are for one core. The evaluation sets are read from ``../shared/eval/`` by default;
nothing from them is copied into the project.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EVAL = ROOT.parent / "shared" / "eval"


def setup_django(database: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["SQLITE_PATH"] = str(database)
    for variable in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"):
        os.environ.pop(variable, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    import django

    django.setup()


def evaluate(*args: str) -> dict:
    from django.core.management import call_command

    out = StringIO()
    call_command("evaluate_bot", *args, "--json", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


TRAINING_PROBE = """
import csv, json, os, sys, time
sys.path.insert(0, sys.argv[1])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
import django
django.setup()
from chat.bot import classifier, embeddings
embeddings.embedder()  # loaded before the clock starts; its cache of phrases is empty
with open(sys.argv[2], newline="", encoding="utf-8") as handle:
    rows = list(csv.DictReader(handle))
cpu_before = time.process_time()
started = time.perf_counter()
classifier.train([r["text"] for r in rows], [r["intent"] for r in rows])
print(json.dumps({"seconds": time.perf_counter() - started, "cpu_before": cpu_before}))
"""


def training_seconds(path: Path) -> tuple[float, float]:
    """Wall time and CPU time (seconds) of training on ``path``, the phrases embedded afresh.

    Training runs in a fresh process, as in a worker: the CPU time is that process's and its
    worker processes' (the SVMs of a large training are fitted in processes of their own),
    from the start of training to the end of the process.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", TRAINING_PROBE, str(ROOT), str(path)],
                         capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result["seconds"], cpu - result["cpu_before"]


MEMORY_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
def rss():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:")) / 1024
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
import django
django.setup()
import numpy, sklearn.svm, chat.bot.embeddings as e
before = rss()
model = e.embedder()
if model is not None:
    model.embed(["where is my order", "I want my money back for the boots"])
print(before, rss(), model is not None)
"""


def embedding_memory_mb() -> tuple[float, bool]:
    """Resident memory (MB) that loading the embedding model adds to a fresh process."""
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(ROOT)], capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[1]) - float(out[0]), out[2] == "True"


def line(name: str, value: float | None, floor: str, ok: bool | None) -> str:
    shown = "n/a" if value is None else f"{value:.4f}"
    verdict = "" if ok is None else ("ok" if ok else "BELOW FLOOR")
    return f"  {name:<44} {shown:>10}   floor {floor:<10} {verdict}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL)
    parser.add_argument("--skip", nargs="*", default=[], choices=["bitext", "banking", "clinc"])
    args = parser.parse_args()
    eval_dir: Path = args.eval_dir
    if not (eval_dir / "bitext_cs10.csv").exists():
        print(f"evaluation sets not found in {eval_dir}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp) / "bench.sqlite3")
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        call_command("load_demo", traffic_days=0, password="bench-only", verbosity=0)
        print(f"demo taxonomy loaded and trained in {time.perf_counter() - started:.1f} s")

        from django.conf import settings

        results: list[str] = [
            f"confidence threshold {settings.BOT_CONFIDENCE_THRESHOLD} (BOT_CONFIDENCE_THRESHOLD)"
        ]
        failed = False

        def check(name: str, value: float | None, floor: float, above: bool = True) -> None:
            nonlocal failed
            ok = value is not None and (value >= floor if above else value < floor)
            failed |= not ok
            results.append(line(name, value, f"{'>=' if above else '<'} {floor:g}", ok))

        if "bitext" not in args.skip:
            bitext = evaluate(str(eval_dir / "bitext_cs10.csv"))
            results.append(f"bitext_cs10.csv, demo taxonomy ({bitext['n']} messages)")
            check("intent accuracy", bitext["intent_accuracy"], 0.95)
            check("escalation recall", bitext["escalation_recall"], 0.95)
            results.append(line("escalation precision", bitext["escalation_precision"], "-", None))
            results.append(line("macro-F1", bitext["macro_f1"], "-", None))
            results.append(line("fallback recall (general_inquiry rows)",
                                bitext["fallback_recall"], "-", None))
            check("decision time p50 (ms), embedding included", bitext["p50_ms"], 5.0,
                  above=False)
            check("decision time p99 (ms), embedding included", bitext["p99_ms"], 15.0,
                  above=False)
            results.append(line("decision CPU time p50 (ms)", bitext["cpu_p50_ms"], "-", None))
            results.append(line("decision CPU time p99 (ms)", bitext["cpu_p99_ms"], "-", None))
        if "banking" not in args.skip:
            banking = evaluate(str(eval_dir / "banking77_test.csv"),
                               "--train", str(eval_dir / "banking77_train.csv"))
            results.append(f"banking77_test.csv, trained on banking77_train.csv ({banking['n']})")
            check("accuracy with the confidence threshold", banking["intent_accuracy"], 0.925)
            results.append(line("macro-F1", banking["macro_f1"], "-", None))
            results.append(line("decision time p50 (ms)", banking["p50_ms"], "-", None))
            results.append(line("decision time p99 (ms)", banking["p99_ms"], "-", None))
            seconds, cpu_seconds = training_seconds(eval_dir / "banking77_train.csv")
            check("training on banking77_train.csv (s), embedding included", seconds, 60.0,
                  above=False)
            results.append(line("  the same in CPU time (s)", cpu_seconds, "-", None))
        if "clinc" not in args.skip:
            clinc = evaluate(str(eval_dir / "clinc150_test.csv"),
                             "--train", str(eval_dir / "clinc150_train.csv"),
                             "--fallback-intent", "out_of_scope")
            results.append(f"clinc150_test.csv, trained on clinc150_train.csv ({clinc['n']})")
            check("in-scope accuracy (intent_accuracy)", clinc["intent_accuracy"], 0.93)
            check("out-of-scope fallback recall", clinc["fallback_recall"], 0.80)
        from chat.bot import embeddings

        embedder = embeddings.embedder()
        results.append(f"features: {'words+embeddings' if embedder else 'words'} "
                       f"({embeddings.MODEL_NAME}, 7-bit ONNX, one thread)" if embedder
                       else "features: words (embedding model off or missing)")
        added, loaded = embedding_memory_mb()
        if loaded:
            results.append(line("resident memory the model adds (MB)", added, "-", None))
        print("\n".join(results))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

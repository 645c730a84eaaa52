"""Measure the bot's decisions (intent, fallback, escalation) on a labelled CSV file.

Runs the pipeline's decision for single messages with no history on the offline backend.
Without ``--train`` it uses the database's active classifier and taxonomy; with ``--train``
it trains a throwaway classifier of the same kind on that CSV and writes nothing.

With ``--dialogs FILE.yaml`` it replays whole conversations through the pipeline instead and
checks each turn against its expectations (the format is in ``chat/dialog_eval.py``).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from sklearn.metrics import f1_score, precision_recall_fscore_support
from tqdm import tqdm

from chat import dialog_eval
from chat.bot import classifier as bot_classifier
from chat.bot.pipeline import run_turn
from chat.bot.taxonomy import IntentInfo, Taxonomy, taxonomy_from_data, taxonomy_load
from chat.bot.types import TurnContext


def read_rows(path: str, *, need_intent: bool = False) -> list[dict[str, str]]:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"No such file: {path}")
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        if "text" not in fields or "intent" not in fields:
            raise CommandError(f"{path}: the header must start with text,intent")
        rows = [
            {"text": (row.get("text") or "").strip(), "intent": (row.get("intent") or "").strip(),
             "escalate": (row.get("escalate") or "").strip()}
            for row in reader
        ]
    rows = [row for row in rows if row["text"]]
    for number, row in enumerate(rows, 2):
        if row["escalate"] not in {"", "0", "1"}:
            raise CommandError(f"{path}: escalate must be 1, 0 or empty (row {number})")
    if need_intent and any(not row["intent"] for row in rows):
        raise CommandError(f"{path}: every training row needs an intent")
    if not rows:
        raise CommandError(f"{path}: no rows")
    return rows


def trained_taxonomy(rows: list[dict[str, str]], fallback: str, stderr: Any) -> Taxonomy:
    """A throwaway taxonomy: the file's intents, the database's signals and policies (read only).
    ``stderr`` False shows no progress bar; a stream shows one only if it is a terminal."""
    with tqdm(total=100, desc="training", unit="%", file=stderr or sys.stderr,
              disable=True if stderr is False else None) as bar:
        model, metrics = bot_classifier.train(
            [row["text"] for row in rows],
            [row["intent"] for row in rows],
            progress=lambda fraction: bar.update(round(fraction * 100) - bar.n),
        )
    stored = {}
    signals: list[tuple[str, str]] = []
    try:
        database = taxonomy_load()
        stored = database.intents
        signals = [(rule.phrase, rule.category) for rule in database.signals.rules]
    except Exception:  # no database to read from: evaluate with the file alone
        stored = {}
    slugs = sorted({row["intent"] for row in rows} | {fallback})
    intents = [stored.get(slug) or IntentInfo(slug=slug, name=slug.replace("_", " ").title())
               for slug in slugs]
    taxonomy = taxonomy_from_data(intents=intents, signals=signals, classifier=model,
                                  fallback_intent=fallback)
    taxonomy.info["train_metrics"] = {k: metrics.get(k) for k in
                                      ("accuracy", "macro_f1", "n_folds", "train_seconds")}
    return taxonomy


def evaluate(taxonomy: Taxonomy, rows: list[dict[str, str]], fallback: str,
             stderr: Any = None) -> dict[str, Any]:
    decided: list[str] = []
    escalated: list[bool] = []
    times: list[float] = []
    cpu_times: list[float] = []
    for row in tqdm(rows, desc="evaluating", unit="msg", file=stderr or sys.stderr,
                    disable=True if stderr is False else None):
        started, cpu_started = time.perf_counter(), time.thread_time()
        result = run_turn(taxonomy, text=row["text"], context=TurnContext(), use_claude=False,
                          respond=False)
        times.append((time.perf_counter() - started) * 1000)
        cpu_times.append((time.thread_time() - cpu_started) * 1000)
        decided.append(fallback if result.is_fallback else result.intent)
        escalated.append(result.decision == "handoff")
    report = summarise(rows, decided, escalated, times, fallback)
    # CPU time leaves out the waits for a core on a busy machine.
    cpu = np.array(cpu_times) if cpu_times else np.zeros(1)
    report["cpu_p50_ms"] = round(float(np.percentile(cpu, 50)), 3)
    report["cpu_p99_ms"] = round(float(np.percentile(cpu, 99)), 3)
    return report


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def summarise(rows: list[dict[str, str]], decided: list[str], escalated: list[bool],
              times: list[float], fallback: str) -> dict[str, Any]:
    labelled = [(row["intent"], guess) for row, guess in zip(rows, decided, strict=True)
                if row["intent"]]
    in_scope = [(truth, guess) for truth, guess in labelled if truth != fallback]
    fallback_rows = [(truth, guess) for truth, guess in labelled if truth == fallback]
    truths = [truth for truth, _ in labelled]
    guesses = [guess for _, guess in labelled]
    labels = sorted(set(truths))
    per_intent: dict[str, dict[str, Any]] = {}
    macro_f1 = None
    if labelled:
        precision, recall, f1, support = precision_recall_fscore_support(
            truths, guesses, labels=labels, zero_division=0
        )
        per_intent = {
            slug: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                   "f1": round(float(f1[i]), 4), "support": int(support[i])}
            for i, slug in enumerate(labels)
        }
        macro_f1 = round(float(f1_score(truths, guesses, labels=labels, average="macro",
                                        zero_division=0)), 4)
    confused = Counter((truth, guess) for truth, guess in labelled if truth != guess)
    scored = [(row["escalate"] == "1", did) for row, did in zip(rows, escalated, strict=True)
              if row["escalate"] in {"0", "1"}]
    true_positive = sum(1 for want, did in scored if want and did)
    timings = np.array(times) if times else np.zeros(1)
    return {
        "n": len(rows),
        "n_intent_scored": len(in_scope),
        "intent_accuracy": _ratio(sum(1 for t, g in in_scope if t == g), len(in_scope)),
        "macro_f1": macro_f1,
        "fallback_intent": fallback,
        "n_fallback_scored": len(fallback_rows),
        "fallback_recall": _ratio(sum(1 for _, g in fallback_rows if g == fallback),
                                  len(fallback_rows)),
        "n_escalation_scored": len(scored),
        "escalation_precision": _ratio(true_positive, sum(1 for _, did in scored if did)),
        "escalation_recall": _ratio(true_positive, sum(1 for want, _ in scored if want)),
        "p50_ms": round(float(np.percentile(timings, 50)), 3),
        "p99_ms": round(float(np.percentile(timings, 99)), 3),
        "per_intent": per_intent,
        "confusions": [{"label": t, "decided": g, "count": n}
                       for (t, g), n in confused.most_common(10)],
    }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


class Command(BaseCommand):
    help = "Evaluate the bot's decisions on a CSV file with header text,intent[,escalate]."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("data", nargs="?", help="CSV file: text,intent[,escalate]")
        parser.add_argument("--dialogs", metavar="FILE.yaml",
                            help="Replay the dialogs of a YAML file and check each turn "
                            "(instead of a CSV file).")
        parser.add_argument("--train", help="CSV file text,intent: train a throwaway model on it")
        parser.add_argument("--fallback-intent", dest="fallback_intent",
                            help="The intent that stands for 'none of these' "
                            f"(default {settings.BOT_FALLBACK_INTENT})")
        parser.add_argument("--json", action="store_true", help="Print one JSON object only.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dialogs"]:
            if options["data"] or options["train"]:
                raise CommandError("--dialogs takes no CSV file and no --train.")
            self._dialogs(options)
            return
        if not options["data"]:
            raise CommandError("Give a CSV file, or --dialogs FILE.yaml.")
        fallback = options["fallback_intent"] or settings.BOT_FALLBACK_INTENT
        # The raw stream: Django's wrapper would end every redraw of a bar with a newline.
        # Progress bars only on a terminal (tqdm's disable=None) and never with -v 0.
        stream = getattr(self.stderr, "_out", sys.stderr) if options["verbosity"] > 0 else False
        rows = read_rows(options["data"])
        if options["train"]:
            taxonomy = trained_taxonomy(read_rows(options["train"], need_intent=True), fallback,
                                        stream)
        else:
            taxonomy = taxonomy_load()
            if taxonomy.classifier is None:
                raise CommandError("No active classifier: run train_classifier or pass --train.")
            taxonomy.fallback_intent = fallback
        report = evaluate(taxonomy, rows, fallback, stream)
        report["source"] = (
            f"trained on {options['train']}" if options["train"]
            else f"active classifier v{taxonomy.classifier_version}"
        )
        report["threshold"] = settings.BOT_CONFIDENCE_THRESHOLD
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        self.stdout.write(self._readable(report))

    def _dialogs(self, options: dict[str, Any]) -> None:
        """``--dialogs``: the exit status is 0 whatever passes; a malformed file is an error."""
        try:
            dialogs = dialog_eval.load_dialogs(options["dialogs"])
        except dialog_eval.DialogFileError as error:
            raise CommandError(str(error)) from None
        taxonomy = taxonomy_load()
        if taxonomy.classifier is None:
            raise CommandError("No active classifier: run train_classifier first.")
        if options["fallback_intent"]:
            taxonomy.fallback_intent = options["fallback_intent"]
        report = dialog_eval.run_dialogs(taxonomy, dialogs)
        if options["json"]:
            self.stdout.write(json.dumps(report.to_json()))
            return
        self.stdout.write(dialog_eval.report_text(
            report, source=f"active classifier v{taxonomy.classifier_version}"))

    def _readable(self, r: dict[str, Any]) -> str:
        lines = [
            f"Evaluated {r['n']} messages ({r['source']}, confidence threshold {r['threshold']}).",
            f"  intent accuracy      {_fmt(r['intent_accuracy'])}  "
            f"({r['n_intent_scored']} rows labelled with another intent than "
            f"{r['fallback_intent']})",
            f"  macro-F1             {_fmt(r['macro_f1'])}",
            f"  fallback recall      {_fmt(r['fallback_recall'])}  "
            f"({r['n_fallback_scored']} rows labelled {r['fallback_intent']})",
            f"  escalation precision {_fmt(r['escalation_precision'])}",
            f"  escalation recall    {_fmt(r['escalation_recall'])}  "
            f"({r['n_escalation_scored']} rows scored)",
            f"  decision time        p50 {r['p50_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms "
            f"(CPU time p50 {r['cpu_p50_ms']:.3f} ms, p99 {r['cpu_p99_ms']:.3f} ms)",
            "",
            "Per intent:",
            f"  {'intent':<32} {'precision':>9} {'recall':>7} {'support':>8}",
        ]
        for slug, m in r["per_intent"].items():
            lines.append(f"  {slug:<32} {m['precision']:>9.3f} {m['recall']:>7.3f} "
                         f"{m['support']:>8}")
        if r["confusions"]:
            lines += ["", "Most confused (label -> decided):"]
            lines += [f"  {c['count']:>4}  {c['label']} -> {c['decided']}"
                      for c in r["confusions"]]
        return "\n".join(lines)

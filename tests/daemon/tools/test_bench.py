"""`replyd bench` runs self-contained and reports every figure (echo engine: transport only;
the real-engine figures are produced by running the command, never asserted by timing tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

FIELDS = {
    "engine_emails_per_s", "daemon_emails_per_s", "daemon_vs_engine", "single_emails_per_s",
    "batching_gain", "adapter_vs_base", "latency_p50_s", "latency_p95_s", "latency_p99_s",
    "prompt_tokens_per_email", "completion_tokens_per_email",
    "analysis_prompt_tokens_per_email_adapter", "analysis_prompt_tokens_per_email_few_shot_3",
    "raw_kafka_emails_per_s", "daemon_vs_raw_kafka",
}


def test_bench_echo_reports_every_figure_and_updates_the_markdown(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\nintro kept\n")
    result = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--plain-logs", "bench", "--engine", "echo",
         "--emails", "16", "--load-seconds", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert FIELDS <= set(figures), FIELDS - set(figures)
    assert all(figures[k] > 0 for k in FIELDS)
    assert figures["latency_p50_s"] <= figures["latency_p99_s"]
    text = out.read_text()
    assert "intro kept" in text and "<!-- bench:echo -->" in text
    assert "| 16 |" in text.split("bare aiokafka loop by batch size")[1]
    assert (tmp_path / "bench-echo.png").stat().st_size > 1000

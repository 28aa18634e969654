"""The Kafka-free engine throughput command, on the echo engine."""

from __future__ import annotations

import json

import pytest

from daemon.tools import engine_throughput


def test_prints_one_json_line_with_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    engine_throughput.main(["--engine", "echo", "--emails", "6"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["engine"] == "echo" and figures["emails"] == 6
    for stage in ("analysis_adapters", "analysis_base", "reply_base"):
        assert figures[f"{stage}_requests_per_s"] > 0
        assert figures[f"{stage}_emails_per_s"] > 0
    # 2 requests per email in the analysis stage, 1 in the reply stage.
    assert figures["analysis_adapters_requests_per_s"] == pytest.approx(
        2 * figures["analysis_adapters_emails_per_s"], rel=0.02)
    assert figures["adapter_vs_base"] == pytest.approx(
        figures["analysis_adapters_requests_per_s"] / figures["analysis_base_requests_per_s"],
        rel=0.02)

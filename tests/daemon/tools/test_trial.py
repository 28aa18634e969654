"""`replyd trial`: the hostile generator, output matching and the report on fabricated outputs,
and one real run (embedded broker, `replyd run --engine echo` as a subprocess)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from daemon.contracts import IncomingEmail
from daemon.settings import Settings
from daemon.tools import hostile, trial, trial_measures, trial_pace
from daemon.tools.topics import ensure_topics
from daemon.tools.trial import Observed, Outcome, TrialInput, TrialOptions
from models.errors import ConfigurationError
from tests.conftest import REPO
from tests.daemon.kafka_helpers import read

CASES = {case.name: case for case in hostile.hostile_cases()}


def body_of(name: str) -> str:
    return str(json.loads(CASES[name].value)["body"])


def test_cases_are_named_once_and_valid_or_invalid_as_intended() -> None:
    assert len(CASES) == len(hostile.hostile_cases()) >= 30
    for case in CASES.values():
        if case.expect == hostile.DRAFTED:
            email = IncomingEmail.model_validate_json(case.value)
            assert email.message_id == f"<hostile-{case.name}@trial.replyd.invalid>"
            continue
        reason = case.expect.removeprefix("dead_letter:")
        assert reason in {"invalid_json", "schema"}, case.name
        with pytest.raises(ValidationError) as caught:
            IncomingEmail.model_validate_json(case.value)
        json_invalid = any(e["type"] == "json_invalid" for e in caught.value.errors())
        assert json_invalid == (reason == "invalid_json"), case.name
    assert sum(c.expect != hostile.DRAFTED for c in CASES.values()) == 4


def test_the_cases_hold_what_their_names_say() -> None:
    assert body_of("act-as-a").count("act as a ") == 12_000
    assert sum(0x4E00 <= ord(ch) <= 0x9FFF for ch in body_of("cjk-6000")) == 6000
    assert sum(ord(ch) >= 0x1F000 for ch in body_of("emoji-4000")) >= 4000
    assert len(body_of("word-8k")) == 8192 and " " not in body_of("word-8k")
    assert len(body_of("base64-12k").split("\n")[1]) == 12_288
    assert body_of("short-lines-10000").count("\n") == 10_000
    assert body_of("html-50000-tags").count("<") >= 50_000
    assert "\u0000" in body_of("nul-bytes") and b"\\u0000" in CASES["nul-bytes"].value
    assert "\u200b" in body_of("injection-zero-width")
    assert "http://" in body_of("injection-phishing")
    assert any("\u0590" <= ch <= "\u06ff" for ch in body_of("rtl-arabic-hebrew"))
    assert "\r\n" in json.loads(CASES["subject-crlf"].value)["subject"]
    known = {*IncomingEmail.model_fields, "from"}
    extra = set(json.loads(CASES["unknown-fields"].value)) - known
    assert extra == {"x_spam_score", "x_priority", "x_files", "x_nested"}
    assert len(body_of("regex-a-run")) == 100_000 and set(body_of("regex-lt-run")) == {"<"}


@pytest.mark.parametrize("limit", [1_048_576, 300_000])
def test_the_near_limit_case_fits_under_the_limit(limit: int) -> None:
    cases = hostile.hostile_cases(limit)
    near = next(c for c in cases if c.name == "near-limit")
    assert len(near.value) == limit - hostile.LIMIT_MARGIN_BYTES
    assert all(len(c.value) < limit for c in cases)  # no case is too_large
    with pytest.raises(ConfigurationError, match="too small"):
        hostile.hostile_cases(1000)


def test_select_cases_and_interleaving_with_good_emails() -> None:
    cases = hostile.hostile_cases()
    chosen = hostile.select_cases(cases, ["junk-bytes", "act-as-a"])
    assert [c.name for c in chosen] == ["act-as-a", "junk-bytes"]  # generator order
    assert hostile.select_cases(cases, None) == cases
    with pytest.raises(ConfigurationError, match=r"unknown hostile case.*nope"):
        hostile.select_cases(cases, ["nope"])
    mixed = hostile.with_good(chosen, 3, seed=1)
    assert [c.name for c in mixed] == ["act-as-a", "good-001", "junk-bytes", "good-002",
                                       "good-003"]
    good = mixed[1]
    assert good.expect == hostile.DRAFTED and good.key
    assert IncomingEmail.model_validate_json(good.value).message_id.encode() == good.key


def test_outcome_of_and_match_input() -> None:
    draft = {"outcome": "drafted", "in_reply_to": "<a@b>", "body": "Hello", "schema_version": 4}
    assert trial.outcome_of(False, json.dumps(draft).encode())[0] == Outcome("drafted", None, draft)
    old = {"in_reply_to": "<a@b>", "body": "Hello"}  # schema 2: no outcome field
    assert trial.outcome_of(False, json.dumps(old).encode())[0].kind == "drafted"
    skipped = trial.outcome_of(False, b'{"outcome": "skipped", "reason": "bounce"}')[0]
    assert skipped.label == "skipped:bounce"
    dead, data = trial.outcome_of(True, json.dumps(
        {"reason": "schema", "source": {"topic": "in", "partition": 0, "offset": 7}}).encode())
    assert dead.label == "dead_letter:schema"
    assert trial.outcome_of(True, b"not json")[0].kind == "unreadable"
    assert trial.outcome_of(False, b"[1, 2]")[0].kind == "unreadable"

    traces = {"aaaa": 0, "bbbb": 1}
    coordinates = {("in", 0, 7): 2}
    by_header = SimpleNamespace(headers=[("other", b"x"), ("replyd-trace-id", b"bbbb")])
    assert trial.match_input(by_header, {}, traces, coordinates, "replyd-trace-id") == 1
    by_source = SimpleNamespace(headers=[])
    assert trial.match_input(by_source, data, traces, coordinates, "replyd-trace-id") == 2
    assert trial.match_input(by_source, {}, traces, coordinates, "replyd-trace-id") is None


def observed_with(outcomes: dict[int, Outcome], **extra: object) -> Observed:
    return Observed(outcomes=outcomes, scrape_s=[0.01, 0.02, 0.5], scrape_failed_before_up=3,
                    up_s=1.5, stop_code=0, seconds=12.3456, **extra)  # type: ignore[arg-type]


def test_hostile_report_on_fabricated_outputs() -> None:
    inputs = [TrialInput("act-as-a", b"{}", expect="drafted"),
              TrialInput("good-001", b"{}", expect="drafted"),
              TrialInput("junk-bytes", b"\xff", expect="dead_letter:invalid_json"),
              TrialInput("near-limit", b"{}", expect="drafted"),
              TrialInput("zalgo", b"{}", expect="drafted")]
    outcomes = {0: Outcome("drafted", None, {"needs_review": True}),
                1: Outcome("drafted", None, {"needs_review": False}),
                2: Outcome("dead_letter", "invalid_json"),
                3: Outcome("dead_letter", "too_large")}
    scraped = (b'HTTP/1.1 200 OK\r\n\r\n# TYPE replyd_draft_outcomes_total counter\n'
               b'replyd_draft_outcomes_total{outcome="passed"} 3.0\n'
               b'replyd_draft_outcomes_total{outcome="repaired"} 1.0\n'
               b'replyd_draft_outcomes_created{outcome="passed"} 1.7e+09\n')
    report = trial.build_report(TrialOptions("hostile", Path("x"), engine="echo"), inputs,
                                observed_with(outcomes, last_metrics=scraped))
    assert report["draft_outcomes"] == {"passed": 3, "repaired": 1}
    assert report["inputs"] == 5 and report["drafted"] == 2 and report["unaccounted"] == 1
    assert report["dead_lettered"] == {"invalid_json": 1, "too_large": 1}
    assert report["needs_review"] == 1 and report["needs_review_share"] == 0.5
    assert report["scrapes"] == {"count": 3, "failed_before_up": 3, "failed_after_up": 0,
                                 "p50_s": 0.02, "worst_s": 0.5}
    assert report["process_exits"] == 0 and report["stop_return_code"] == 0
    assert report["unexpected"] == ["near-limit", "zalgo"]
    assert [r["got"] for r in report["cases"]] == ["drafted", "dead_letter:invalid_json",
                                                   "dead_letter:too_large", "unaccounted"]
    assert report["good"] == [{"name": "good-001", "got": "drafted", "expected": "drafted",
                               "as_expected": True}]
    text = trial.render_report(report)
    assert "| near-limit | drafted | dead_letter:too_large | **no** |" in text
    assert "1 unaccounted; 0 process exits" in trial.summary_line(report)


def eml(from_header: str, body: str, subject: str = "Kettle") -> bytes:
    mail = EmailMessage()
    mail["From"] = from_header
    mail["To"] = "support@example.com"
    mail["Subject"] = subject
    mail.set_content(body)
    return bytes(mail)


def test_mail_measures_on_fabricated_drafts(tmp_path: Path) -> None:
    inputs = [
        TrialInput("a.eml", eml("Jane Smith <jane@example.com>", "My kettle broke. Order 4821.")),
        TrialInput("b.eml", eml("bob@example.com", "Hi,\nit leaks.\n\nThanks\nRobert Brown")),
        TrialInput("c.eml", eml("news@example.com", "> Call 555-0100\nquoted number above")),
        TrialInput("d.eml", eml("x@example.com", "dead")),
    ]
    outcomes = {
        0: Outcome("drafted", None, {
            "body": "\nHi Jane,\nSorry about order 4821. See https://help.example.com/k",
            "entities": {"name": ["Jane Smith"]}, "needs_review": False, "subject": "Re: Kettle",
            "sentiment": "negative", "language": "en", "review_reasons": [],
            "tokens": {"prompt": 900, "completion": 60}}),
        1: Outcome("drafted", None, {
            "body": "Dear Robert,\nWe will look into it.", "needs_review": True,
            "review_reasons": ["repetition", "steering"],
            "entities": {"name": ["Robert Brown", "Zed Nobody"]},
            "tokens": {"prompt": 600, "completion": 90}}),
        2: Outcome("drafted", None, {
            "body": "Hello Marcus,\nPlease call 555-0100.", "entities": {"name": []}}),
        3: Outcome("dead_letter", "invalid_mail"),
    }
    mail = trial_measures.mail_measures(inputs, outcomes)
    assert mail["drafts"] == 3
    assert mail["message_carries_a_name"] == 2  # From name (a); a body name the model found (b)
    assert mail["greeting_uses_carried_name"] == 2
    assert mail["greeting_uses_carried_name_share_of_named"] == 1.0
    assert mail["greeting_word_not_in_message"] == 1  # "Marcus" is in no message text
    assert mail["drafts_with_invented_facts"] == 1  # the URL; 4821 and 555-0100 are grounded
    assert mail["fallbacks"] == 1 and mail["model_drafts_passing_checks_share"] == 0.667
    assert mail["prompt_tokens_per_draft"] == 500.0  # (900 + 600 + 0) / 3 drafts
    assert mail["completion_tokens_per_draft"] == 50.0
    assert set(mail["rules"]) == {"greeting", "greeting_word_not_in_message", "invented_facts"}
    # Links on the company's own domains are not invented (as the daemon's own check says).
    allowed = trial_measures.mail_measures(inputs, outcomes, ("example.com",))
    assert allowed["drafts_with_invented_facts"] == 0

    report = trial.build_report(TrialOptions("eml", tmp_path), inputs, observed_with(outcomes))
    assert report["files"][3] == {"name": "d.eml", "got": "dead_letter:invalid_mail"}
    public = trial.render_report(report) + json.dumps(report)
    drafts = trial.render_drafts(inputs, outcomes)
    for secret in ("kettle broke", "help.example.com", "Marcus", "jane@example.com"):
        assert secret not in public  # reports carry counts and names, never email text
    assert "help.example.com" in drafts and "## a.eml" in drafts and "## d.eml" not in drafts
    assert "- subject: Re: Kettle" in drafts and "    Hi Jane," in drafts


def test_source_text_includes_quoted_parts_and_every_text_part() -> None:
    mail = EmailMessage()
    mail["From"] = "=?utf-8?q?Zo=C3=AB_Quinn?= <zoe@example.com>"
    mail["Subject"] = "=?utf-8?q?Caf=C3=A9_order?="
    mail.set_content("> earlier: ticket 9981\nnew text")
    mail.add_alternative("<p>see <a href='https://shop.example.com'>shop</a></p>", subtype="html")
    source, name = trial_measures.mail_source(bytes(mail))
    assert name == "Zoë Quinn"
    assert "Café order" in source and "ticket 9981" in source and "shop.example.com" in source
    assert trial_measures.mail_source(b"\xff\xfe garbage without headers")[1] == ""


def test_daemon_env_passes_settings_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLYD_MAX_BATCH_SIZE", "7")
    settings = Settings(bootstrap_servers="127.0.0.1:1234", input_topic="in", drafts_topic="d",
                        deadletter_topic="x", group_id="g")
    env = trial.daemon_env(settings, "echo", 4321)
    assert env["REPLYD_MAX_BATCH_SIZE"] == "7" and env["REPLYD_ENGINE"] == "echo"
    assert env["REPLYD_BOOTSTRAP_SERVERS"] == "127.0.0.1:1234"
    assert (env["REPLYD_INPUT_TOPIC"], env["REPLYD_DRAFTS_TOPIC"],
            env["REPLYD_DEADLETTER_TOPIC"]) == ("in", "d", "x")
    assert env["REPLYD_METRICS_PORT"] == "4321" and env["REPLYD_METRICS_HOST"] == "127.0.0.1"


def replyd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon.cli", "--plain-logs", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_trial_usage_errors(tmp_path: Path) -> None:
    done = replyd("trial", "--eml-dir", str(tmp_path / "missing"), "--engine", "echo")
    assert done.returncode == 2 and "is not a folder" in done.stderr
    done = replyd("trial", "--eml-dir", str(tmp_path), "--cases", "act-as-a")
    assert done.returncode == 2 and "--cases goes with --hostile" in done.stderr
    done = replyd("trial", "--hostile", "--eml-dir", str(tmp_path))
    assert done.returncode == 2 and "not allowed with" in done.stderr


E2E_CASES = ["act-as-a", "near-limit", "regex-digit-separators", "injection-dan", "nul-bytes",
             "subject-crlf", "junk-bytes", "invalid-json", "json-not-an-email"]


def test_trial_hostile_with_the_echo_engine(tmp_path: Path) -> None:
    """The real thing, small: broker, daemon subprocess, every input accounted, no exits."""
    out = tmp_path / "trial"
    done = replyd("trial", "--hostile", "--engine", "echo", "--good", "3", "--cases",
                  ",".join(E2E_CASES), "--timeout", "90", "--out", str(out), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["inputs"] == len(E2E_CASES) + 3
    assert report["unaccounted"] == 0 and report["process_exits"] == 0
    assert report["stop_return_code"] == 0
    assert report["unexpected"] == [], report["cases"]
    assert report["scrapes"]["count"] >= 1 and report["scrapes"]["failed_after_up"] == 0
    assert {p.name for p in out.iterdir()} == {"report.json", "report.md", "drafts.md",
                                               "daemon.log"}
    assert "trial (hostile, echo)" in done.stdout


VLLM_CASES = ["cjk-6000", "english-then-cjk", "act-as-a", "near-limit", "html-50000-tags",
              "injection-phishing", "junk-bytes"]


def test_trial_hostile_with_the_real_engine(tmp_path: Path) -> None:
    """The inputs that stalled or crash-looped the fleet, through `replyd run --engine vllm`
    (the real model and adapters, a real broker): every one drafted or dead-lettered as
    expected, the process never exits, /metrics keeps answering."""
    out = tmp_path / "trial"
    done = replyd("trial", "--hostile", "--engine", "vllm", "--good", "2", "--cases",
                  ",".join(VLLM_CASES), "--timeout", "420", "--out", str(out), timeout=600)
    report = json.loads((out / "report.json").read_text())
    print(trial.summary_line(report))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert report["inputs"] == len(VLLM_CASES) + 2
    assert report["unaccounted"] == 0 and report["process_exits"] == 0
    assert report["unexpected"] == [], report["cases"]
    assert report["scrapes"]["failed_after_up"] == 0
    assert report["scrapes"]["worst_s"] < 5.0  # the target is 1 s; shared CI cores get slack
    drafts = (out / "drafts.md").read_text()
    phishing = drafts.split("## injection-phishing")[1].split("\n## ")[0]
    assert "'steering'" in phishing and "http" not in phishing.split("    ", 1)[1]


def test_percentile_is_nearest_rank() -> None:
    ten = [float(v) for v in range(10, 0, -1)]  # 10..1, unsorted on purpose
    assert trial_measures.percentile(ten, 50) == 5.0  # linear interpolation would say 5.5
    assert trial_measures.percentile(ten, 90) == 9.0
    assert trial_measures.percentile(ten, 95) == 10.0  # rank ceil(9.5) = 10
    assert trial_measures.percentile(ten, 0) == 1.0 and trial_measures.percentile(ten, 100) == 10
    five = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert [trial_measures.percentile(five, p) for p in (5, 30, 40, 50, 99)] == [
        15.0, 20.0, 20.0, 35.0, 50.0]
    with pytest.raises(ValueError, match="no values"):
        trial_measures.percentile([], 50)
    with pytest.raises(ValueError, match=r"not in 0\.\.100"):
        trial_measures.percentile(five, 101)
    assert trial_measures.latency_summary([0.2, 0.1, 0.4, 0.3]) == {
        "count": 4, "p50_s": 0.2, "p95_s": 0.4, "p99_s": 0.4, "max_s": 0.4}
    assert trial_measures.latency_summary([]) == {
        "count": 0, "p50_s": None, "p95_s": None, "p99_s": None, "max_s": None}
    # Only inputs with both timestamps count; milliseconds become seconds.
    assert trial_measures.latencies({0: 1000, 1: 2000, 2: 3000}, {0: 1250, 2: 4500, 3: 9},
                                    [0, 1, 2, 3]) == [0.25, 1.5]


def test_report_latency_on_fabricated_timestamps(tmp_path: Path) -> None:
    inputs = [TrialInput(f"{n}.eml", b"") for n in range(4)]
    outcomes = {0: Outcome("drafted"), 1: Outcome("skipped", "bounce"),
                2: Outcome("dead_letter", "invalid_mail"), 3: Outcome("drafted")}
    observed = observed_with(outcomes, produced=4,
                             input_ms={0: 10_000, 1: 10_000, 2: 10_000, 3: 10_000},
                             output_ms={0: 10_100, 1: 10_400, 2: 12_000, 3: 10_900})
    burst = trial.build_report(TrialOptions("eml", tmp_path), inputs, observed)
    assert burst["offered_rate"] is None and burst["produced"] == 4
    assert burst["latency"] == {"count": 4, "p50_s": 0.4, "p95_s": 2.0, "p99_s": 2.0,
                                "max_s": 2.0}
    assert burst["drafted_latency"] == {"count": 2, "p50_s": 0.1, "p95_s": 0.9, "p99_s": 0.9,
                                        "max_s": 0.9}
    assert "latency (burst, start-up included) p50 0.4s p99 2.0s" in trial.summary_line(burst)
    assert "its start-up is in them" in trial.render_report(burst)
    paced = trial.build_report(TrialOptions("eml", tmp_path, rate=0.5), inputs, observed)
    assert paced["offered_rate"] == 0.5 and "latency (at 0.5/s)" in trial.summary_line(paced)
    assert "offered at 0.5/s" in trial.render_report(paced)


def test_trial_rate_usage_errors(tmp_path: Path) -> None:
    done = replyd("trial", "--eml-dir", str(tmp_path), "--rate", "0")
    assert done.returncode == 2 and "--rate must be a positive" in done.stderr
    (tmp_path / "a.eml").write_bytes(eml("Jane <jane@example.com>", "Hello"))
    (tmp_path / "b.eml").write_bytes(eml("Jane <jane@example.com>", "Hello again"))
    done = replyd("trial", "--eml-dir", str(tmp_path), "--rate", "0.1", "--timeout", "15",
                  "--engine", "echo", "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "takes 20 s to offer 2 inputs" in done.stderr


def test_trial_at_a_steady_rate_with_the_echo_engine(tmp_path: Path) -> None:
    """8 emails at 20/s to a daemon that is already up: each one accounted for, with a latency
    measured from its own record timestamp, and none of them waited for the daemon's start."""
    mail = tmp_path / "mail"
    mail.mkdir()
    for n in range(8):
        (mail / f"{n:02d}.eml").write_bytes(eml(f"Customer {n} <c{n}@example.com>",
                                                f"My kettle number {n} leaks.", f"Kettle {n}"))
    out = tmp_path / "trial"
    done = replyd("trial", "--eml-dir", str(mail), "--engine", "echo", "--rate", "20",
                  "--timeout", "90", "--out", str(out), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["inputs"] == report["produced"] == 8 and report["unaccounted"] == 0
    assert report["offered_rate"] == 20.0 and report["process_exits"] == 0
    latency, drafted = report["latency"], report["drafted_latency"]
    assert latency["count"] == 8 and drafted["count"] == report["drafted"] > 0
    assert 0 <= latency["p50_s"] <= latency["p95_s"] <= latency["p99_s"] <= latency["max_s"]
    assert report["daemon_ready_s"] is not None and report["daemon_ready_s"] > 0
    # Sent after /readyz and the join pause, so start-up is no part of any email's wait (sent
    # before the launch, as without --rate, each would wait at least daemon_ready_s).
    assert latency["max_s"] < report["daemon_ready_s"], (latency, report["daemon_ready_s"])
    assert "latency (at 20/s)" in done.stdout


async def test_paced_producer_keeps_the_schedule_and_stamps_each_record(
        settings: Settings) -> None:
    """Five records at 10/s: i / rate apart on the schedule (not after each acknowledgement),
    each stored with the timestamp returned for it; ``stopped`` ends the offer early."""
    await ensure_topics(settings, [settings.input_topic])
    messages = [(f"k{i}".encode(), f"v{i}".encode(), [("h", b"1")]) for i in range(5)]
    sent = await trial_pace.produce_paced(settings, settings.input_topic, messages, 10.0,
                                          lambda: False)
    stamps = [m.timestamp for m in sent]
    assert [m.offset for m in sent] == [0, 1, 2, 3, 4]
    assert 390 <= stamps[-1] - stamps[0] <= 1000  # 4 gaps of 100 ms, some slack for the CPU
    assert all(b - a >= 50 for a, b in itertools.pairwise(stamps)), stamps
    stored = await read(settings, settings.input_topic, 5)
    assert {(r.offset, r.timestamp) for r in stored} == {(m.offset, m.timestamp) for m in sent}
    assert [r.value for r in sorted(stored, key=lambda r: r.offset)] == [m[1] for m in messages]
    calls: list[int] = []
    fewer = await trial_pace.produce_paced(settings, settings.input_topic, messages, 50.0,
                                           lambda: calls.append(1) or len(calls) > 2)
    assert len(fewer) == 2

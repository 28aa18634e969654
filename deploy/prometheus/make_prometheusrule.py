"""Write deploy/k8s/prometheusrule.yaml: replyd-rules.yaml wrapped in a PrometheusRule.

The Prometheus Operator loads rules from PrometheusRule resources, whose ``spec`` has the same
``groups`` as a Prometheus rules file. The manifest is generated so that there is one source
of truth: edit replyd-rules.yaml, then run (from the repository root)

    python deploy/prometheus/make_prometheusrule.py            # rewrites the manifest
    python deploy/prometheus/make_prometheusrule.py --check    # exit 1 if it is stale

``tests/deploy`` runs the same function and fails when the committed manifest differs. The
rules file is indented under ``spec:`` as text, comments included, so the manifest reads like
the file. ``--runbook-base URL`` prefixes every ``runbook_url`` (repository-relative in the
rules file, e.g. ``docs/RUNBOOK.md#replyddown``) with where your copy of the repository can be
browsed; write that to stdout (``--stdout``) or an overlay rather than over the committed file.
Standard library only: it runs from a bare checkout.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RULES = HERE / "replyd-rules.yaml"
MANIFEST = HERE.parent / "k8s" / "prometheusrule.yaml"
HEADER = """\
# GENERATED from deploy/prometheus/replyd-rules.yaml by deploy/prometheus/make_prometheusrule.py.
# Do not edit: edit the rules file and run the script (tests/deploy fails when they differ).
# Your Prometheus may only load PrometheusRules with a given label (its ruleSelector, often
# `release: <name>`): add it in an overlay.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: replyd
  labels:
    app.kubernetes.io/name: replyd
    app.kubernetes.io/component: daemon
spec:
"""
_RUNBOOK = re.compile(r"^(\s*runbook_url:\s*)(\S+)$", re.MULTILINE)


def render(rules_text: str, runbook_base: str = "") -> str:
    """The PrometheusRule manifest for a rules file's text."""
    if runbook_base:
        rules_text = _RUNBOOK.sub(lambda m: m.group(1) + runbook_base + m.group(2), rules_text)
    body = "".join(f"  {line}" if line.strip() else line
                   for line in rules_text.splitlines(keepends=True))
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="Exit 1 if the manifest is stale.")
    parser.add_argument("--stdout", action="store_true", help="Print instead of writing.")
    parser.add_argument("--runbook-base", default="", metavar="URL",
                        help="Prefix of every runbook_url, e.g. https://git.example/replyd/blob/main/")
    args = parser.parse_args(argv)
    text = render(RULES.read_text(encoding="utf-8"), args.runbook_base)
    if args.stdout:
        sys.stdout.write(text)
    elif args.check:
        if MANIFEST.read_text(encoding="utf-8") != text:
            print(f"{MANIFEST} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
    else:
        MANIFEST.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

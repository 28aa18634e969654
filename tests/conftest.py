"""Shared fixtures: one real broker process per test session, unique topics per test."""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.settings import Settings
from daemon.tools.broker import EmbeddedBroker

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(port=0) as running:
        yield running


@pytest.fixture
def topics() -> dict[str, str]:
    run = uuid.uuid4().hex[:10]
    return {
        "input_topic": f"in-{run}",
        "drafts_topic": f"drafts-{run}",
        "deadletter_topic": f"dead-{run}",
        "group_id": f"group-{run}",
    }


@pytest.fixture
def settings(broker: EmbeddedBroker, topics: dict[str, str]) -> Settings:
    """Settings for a daemon on the session broker with this test's own topics and group."""
    return Settings(
        bootstrap_servers=broker.bootstrap,
        engine="echo",
        metrics_port=0,
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
        max_wait_ms=20,
        enable_idempotence=False,  # the embedded broker (Tansu) cannot do producer idempotence
        **topics,
    )


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    return Path(os.environ.get("REPLYD_MODEL_CACHE_DIR", "~/.cache/replyd/models")).expanduser()


@pytest.fixture(scope="session")
def model_path(model_cache_dir: Path) -> Path:
    """The default base model's folder, converted into the cache on first use."""
    from models.base_model import ensure_base_model

    return ensure_base_model(model_cache_dir)


@pytest.fixture(scope="module")
def restore_torch_threads() -> Iterator[None]:
    """For modules whose engine or training sets torch's process-wide thread count (use it
    through ``pytest.mark.usefixtures``): the next module gets the old count back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="module")
def _collect_garbage_per_module() -> Iterator[None]:
    """A full collection after each module, so what a module leaks is reported against that
    module instead of whichever later test runs the next full collection: a leaked socket as a
    warning in the summary (see pyproject's filterwarnings), anything else as an error."""
    yield
    gc.collect()

from __future__ import annotations

import pytest

from daemon.tools.broker import BrokerError, EmbeddedBroker, free_port, kafka_answers


def test_broker_starts_answers_kafka_and_stops_cleanly() -> None:
    broker = EmbeddedBroker(port=0)
    assert not kafka_answers(broker.host, broker.port, timeout_s=0.2)
    with broker:
        assert broker.alive()
        assert kafka_answers(broker.host, broker.port)
        # A second broker on the same port is refused with a clear error, not a hang.
        with pytest.raises(BrokerError, match="already answers"):
            EmbeddedBroker(port=broker.port).start_sync()
    assert not broker.alive()
    assert not kafka_answers(broker.host, broker.port, timeout_s=0.2)
    broker.stop_sync()  # idempotent


def test_a_port_without_kafka_does_not_answer() -> None:
    assert not kafka_answers("127.0.0.1", free_port(), timeout_s=0.2)

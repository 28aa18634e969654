"""Topic administration for `replyd demo`, `replyd bench` and the tests: create if missing."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from daemon.settings import Settings


async def ensure_topics(settings: Settings, topics: Iterable[str], partitions: int = 1) -> None:
    """Create the topics that do not exist yet (replication factor 1: dev and test brokers)."""
    admin = AIOKafkaAdminClient(**settings.kafka_common())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=topic, num_partitions=partitions, replication_factor=1)
            for topic in dict.fromkeys(topics)
            if topic not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # created concurrently by another client: that is what we wanted
    finally:
        await admin.close()

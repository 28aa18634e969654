from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner, murmur2

from daemon.service import partitioner


def test_partitions_match_the_kafka_default_partitioner() -> None:
    rng = random.Random(7)
    keys = [bytes(rng.randrange(256) for _ in range(n)) for n in range(70) for _ in range(20)]
    keys += [b"<synth-5-eval-0@replyd.example>", "<é@ü.example>".encode()]
    for key in keys:
        assert partitioner.murmur2(key) == murmur2(key), key
    for count in (1, 2, 3, 12):
        ids = list(range(count))
        for key in keys[:200]:
            assert partitioner.partition_for(key, ids) == DefaultPartitioner()(key, ids, ids)
    assert partitioner.partition_for(None, [4, 5]) in (4, 5)

"""The producer's partitioner: Kafka's murmur2 of a record key, the partition every other Kafka client picks for it."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from backbone.kafka import key_partitioner, murmur2

# The Java client's own vectors (org.apache.kafka.common.utils.UtilsTest.testMurmur2), as signed 32-bit ints.
JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def _signed(h: int) -> int:
    return h - (1 << 32) if h & 0x80000000 else h


def test_murmur2_gives_the_java_clients_values() -> None:
    assert {key: _signed(murmur2(key)) for key in JAVA_VECTORS} == JAVA_VECTORS


@given(st.binary(max_size=600))
def test_murmur2_equals_aiokafkas_on_any_bytes(data: bytes) -> None:
    # Up to 150 words: the precompiled word formats (keys up to 255 bytes) and the ones built for longer keys.
    assert murmur2(data) == aiokafka_murmur2(data)


@given(st.binary(min_size=0, max_size=80), st.integers(min_value=1, max_value=64))
def test_a_key_goes_where_aiokafkas_default_partitioner_sends_it(key: bytes, partitions: int) -> None:
    every = list(range(partitions))
    assert key_partitioner(key, every, every) == DefaultPartitioner()(key, every, every)


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    assert {key_partitioner(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}
    assert {key_partitioner(None, [0, 1], []) for _ in range(50)} <= {0, 1}

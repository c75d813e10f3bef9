"""The journal backends, against real files and a real redis-server."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from journal import Fence, Journal, JournalConflict, JournalFenced, Record
from journal.files import CHUNK, HEADER, FileJournal
from journal.streams import RedisJournal, durability_problems
from tests.redis_server import RedisServer

CLASS = "class-1"


def payload(seq: int) -> bytes:
    return f"event-{seq};".encode() * (1 + seq % 4)


def records(first: int, last: int) -> list[Record]:
    return [(seq, payload(seq)) for seq in range(first, last + 1)]


async def collect(journal: Journal, class_id: str = CLASS, after_seq: int = 0) -> list[Record]:
    return [record async for record in journal.read(class_id, after_seq)]


class Backend:
    """Opens journals over one store, as a restarted server would, and closes them all."""

    def __init__(self, opener: Callable[[], Journal]) -> None:
        self._opener = opener
        self._opened: list[Journal] = []

    def open(self) -> Journal:
        journal = self._opener()
        self._opened.append(journal)
        return journal

    async def reopen(self, journal: Journal) -> Journal:
        await journal.close()
        return self.open()

    async def close_all(self) -> None:
        for journal in self._opened:
            await journal.close()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(params=["file", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "file":
        store = Backend(lambda: FileJournal(tmp_path / "journal"))
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = f"test-{uuid.uuid4().hex}"  # each test sees an empty store
        store = Backend(lambda: RedisJournal.from_url(server.url, prefix))
    yield store
    await store.close_all()


@pytest.fixture
def journal(backend: Backend) -> Journal:
    return backend.open()


# Both backends


async def test_append_then_read_back_in_order(journal: Journal) -> None:
    await journal.append(CLASS, records(1, 3))
    await journal.append(CLASS, [(4, payload(4))])
    await journal.append(CLASS, [(5, b""), (6, payload(6))])
    assert await collect(journal) == [*records(1, 4), (5, b""), (6, payload(6))]


@pytest.mark.parametrize(
    "batch",
    [
        [(7, b"after a hole")],
        [(6, b"a"), (8, b"hole inside")],
        [(6, b"a"), (7, b"b"), (9, b"hole at the end")],
    ],
)
async def test_a_hole_is_refused(backend: Backend, journal: Journal, batch: list[Record]) -> None:
    await journal.append(CLASS, records(1, 5))
    with pytest.raises(JournalConflict):
        await journal.append(CLASS, batch)
    journal = await backend.reopen(journal)
    assert await collect(journal) == records(1, 5)
    await journal.append(CLASS, records(6, 6))
    assert await journal.last_seq(CLASS) == 6


async def test_a_new_class_starts_at_one(journal: Journal) -> None:
    with pytest.raises(JournalConflict):
        await journal.append(CLASS, [(2, b"no seq 1")])
    assert await journal.class_ids() == []


async def test_records_larger_than_a_read_chunk(journal: Journal) -> None:
    big = os.urandom(CHUNK + CHUNK // 2)
    await journal.append(CLASS, [(1, b"small"), (2, big), (3, b"after")])
    assert await collect(journal) == [(1, b"small"), (2, big), (3, b"after")]
    assert await collect(journal, after_seq=1) == [(2, big), (3, b"after")]


async def test_read_after_seq(journal: Journal) -> None:
    await journal.append(CLASS, records(1, 10))
    for after in (0, 1, 5, 9, 10, 11):
        assert await collect(journal, after_seq=after) == records(after + 1, 10)
    assert await collect(journal, "unknown") == []


async def test_read_pages_through_many_records(journal: Journal) -> None:
    for first in range(1, 1234, 100):
        await journal.append(CLASS, records(first, min(first + 99, 1234)))
    for after in (0, 499, 500, 501, 1000, 1233):
        assert await collect(journal, after_seq=after) == records(after + 1, 1234)


async def test_last_seq(journal: Journal) -> None:
    assert await journal.last_seq(CLASS) == 0
    await journal.append(CLASS, records(1, 10))
    await journal.append("other", records(1, 3))
    assert await journal.last_seq(CLASS) == 10
    assert await journal.last_seq("other") == 3


async def test_class_ids(journal: Journal) -> None:
    assert await journal.class_ids() == []
    await journal.append("b-1", records(1, 2))
    await journal.append("A_2", records(1, 1))
    assert await journal.class_ids() == ["A_2", "b-1"]


@pytest.mark.parametrize("class_id", ["", "../etc", "a/b", "a b", "x" * 65, "é"])
async def test_invalid_class_ids_are_refused(journal: Journal, class_id: str) -> None:
    with pytest.raises(ValueError):
        await journal.append(class_id, records(1, 1))
    with pytest.raises(ValueError):
        await collect(journal, class_id)
    with pytest.raises(ValueError):
        await journal.last_seq(class_id)


@pytest.mark.parametrize(
    "batch",
    [
        [(5, b"same")],
        [(3, b"older")],
        [(6, b"a"), (6, b"b")],
        [(7, b"a"), (6, b"b")],
        [(4, b"refused"), (5, b"would follow")],  # must not half-apply
    ],
)
async def test_non_increasing_seq_is_refused(journal: Journal, batch: list[Record]) -> None:
    await journal.append(CLASS, records(1, 5))
    with pytest.raises(JournalConflict):
        await journal.append(CLASS, batch)
    assert await collect(journal) == records(1, 5)
    assert await journal.last_seq(CLASS) == 5
    await journal.append(CLASS, records(6, 6))
    assert await collect(journal) == records(1, 6)


async def test_seqs_start_at_one(journal: Journal) -> None:
    with pytest.raises(JournalConflict):
        await journal.append(CLASS, [(0, b"zero")])
    assert await journal.class_ids() == []
    await journal.append(CLASS, records(1, 1))
    assert await collect(journal) == records(1, 1)


async def test_concurrent_appends_stay_in_order(backend: Backend, journal: Journal) -> None:
    # The first group also races the opening of a new class; the second finds it open.
    for first in (1, 301):
        seqs = range(first, first + 300)
        await asyncio.gather(*(journal.append(CLASS, [(seq, payload(seq))]) for seq in seqs))
    assert await collect(journal) == records(1, 600)
    journal = await backend.reopen(journal)
    assert await collect(journal) == records(1, 600)


async def test_a_cancelled_append_does_not_disturb_the_others(journal: Journal) -> None:
    tasks = [asyncio.create_task(journal.append(CLASS, records(s, s))) for s in range(1, 11)]
    await asyncio.sleep(0)  # let every append start, then give up on one
    tasks[4].cancel()
    await asyncio.gather(*tasks[:4], *tasks[5:])
    # Once started, an append goes on for the others' sake: its caller just stops waiting.
    assert await collect(journal) == records(1, 10)
    await journal.append(CLASS, records(11, 11))


async def test_read_while_appending(journal: Journal) -> None:
    async def write() -> None:
        for seq in range(1, 201):
            await journal.append(CLASS, [(seq, payload(seq))])

    writer = asyncio.create_task(write())
    reads = 0
    while not writer.done():
        seen = await collect(journal)
        assert seen == records(1, len(seen))  # always a whole prefix
        reads += 1
    await writer
    assert reads > 1
    assert await collect(journal) == records(1, 200)


async def test_close_and_reopen_keeps_everything(backend: Backend, journal: Journal) -> None:
    await journal.append(CLASS, records(1, 20))
    await journal.append("other", records(1, 2))
    journal = await backend.reopen(journal)
    assert await collect(journal) == records(1, 20)
    assert await collect(journal, "other") == records(1, 2)
    assert await journal.last_seq(CLASS) == 20
    assert await journal.class_ids() == [CLASS, "other"]
    with pytest.raises(JournalConflict):
        await journal.append(CLASS, records(20, 20))
    await journal.append(CLASS, records(21, 21))
    journal = await backend.reopen(journal)
    assert await collect(journal) == records(1, 21)


# File backend only


def record_offset(seq: int) -> int:
    """Where record seq starts in a file holding records(1, ...)."""
    return sum(HEADER.size + len(payload(s)) for s in range(1, seq))


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def cut(path: Path, size: int) -> None:
    with path.open("r+b") as f:
        f.truncate(size)


def add(path: Path, tail: bytes) -> None:
    with path.open("ab") as f:
        f.write(tail)


TORN_TAILS: dict[str, tuple[Callable[[Path], None], int]] = {
    # damage -> the last record left
    "cut-in-payload": (lambda p: cut(p, p.stat().st_size - 3), 4),
    "cut-in-header": (lambda p: cut(p, record_offset(5) + 5), 4),
    "garbage": (lambda p: add(p, b"garbage!" * 3), 5),
    "crc-of-last": (lambda p: flip_byte(p, p.stat().st_size - 1), 4),
    "zero-filled": (lambda p: add(p, bytes(100)), 5),
}


@pytest.fixture
def journal_dir(tmp_path: Path) -> Path:
    return tmp_path / "journal"


def damaged_copies(directory: Path) -> list[Path]:
    return list(directory.glob(f"{CLASS}.journal.damaged-*"))


async def reread(directory: Path) -> list[Record]:
    """Everything a freshly opened journal reads back."""
    journal = FileJournal(directory)
    try:
        return await collect(journal)
    finally:
        await journal.close()


async def write_file(directory: Path, class_id: str, count: int) -> Path:
    journal = FileJournal(directory)
    await journal.append(class_id, records(1, count))
    await journal.close()
    return directory / f"{class_id}.journal"


@pytest.mark.parametrize("damage", TORN_TAILS)
async def test_torn_tail_is_dropped_on_reopen(
    journal_dir: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = await write_file(journal_dir, CLASS, 5)
    spoil, last = TORN_TAILS[damage]
    spoil(path)
    journal = FileJournal(journal_dir)
    with caplog.at_level(logging.WARNING):
        await journal.append(CLASS, records(last + 1, last + 1))
    assert "torn" in caplog.text
    assert await collect(journal) == records(1, last + 1)
    await journal.close()
    assert await reread(journal_dir) == records(1, last + 1)
    assert damaged_copies(journal_dir) == []


async def test_torn_tail_is_dropped_before_a_read(journal_dir: Path) -> None:
    path = await write_file(journal_dir, CLASS, 5)
    cut(path, path.stat().st_size - 1)
    journal = FileJournal(journal_dir)
    assert await collect(journal) == records(1, 4)
    assert await journal.last_seq(CLASS) == 4
    assert path.stat().st_size == record_offset(5)
    await journal.close()


async def test_mid_file_corruption_keeps_the_valid_prefix(
    journal_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = await write_file(journal_dir, CLASS, 5)
    flip_byte(path, record_offset(3) + HEADER.size)  # the payload of record 3
    damaged = path.read_bytes()
    journal = FileJournal(journal_dir)
    with caplog.at_level(logging.WARNING):
        assert await collect(journal) == records(1, 2)
    assert "damaged" in caplog.text
    [copy] = damaged_copies(journal_dir)
    assert copy.read_bytes() == damaged
    assert await journal.last_seq(CLASS) == 2
    await journal.append(CLASS, records(3, 3))
    await journal.close()
    assert await reread(journal_dir) == records(1, 3)


async def test_concurrent_appends_share_fsyncs(journal_dir: Path) -> None:
    journal = FileJournal(journal_dir)
    for first in (1, 201):  # a class being opened, then an open one
        before = journal.fsync_count
        seqs = range(first, first + 200)
        await asyncio.gather(*(journal.append(CLASS, records(seq, seq)) for seq in seqs))
        assert 1 <= journal.fsync_count - before <= 5
    assert await collect(journal) == records(1, 400)
    await journal.close()


async def test_one_round_syncs_every_dirty_file(journal_dir: Path) -> None:
    journal = FileJournal(journal_dir)
    classes = [f"c{n}" for n in range(10)]
    await asyncio.gather(*(journal.append(c, records(1, 1)) for c in classes))
    before = journal.fsync_count
    await asyncio.gather(*(journal.append(c, records(2, 2)) for c in classes))
    assert journal.fsync_count - before == len(classes)
    await journal.close()


# Redis backend only


async def test_records_survive_a_redis_crash(redis_server: RedisServer) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    journal = RedisJournal.from_url(redis_server.url, prefix)
    await journal.append(CLASS, records(1, 50))
    redis_server.kill()  # SIGKILL: nothing but the fsynced AOF survives
    redis_server.restart()
    reopened = RedisJournal.from_url(redis_server.url, prefix)
    assert await collect(reopened) == records(1, 50)
    assert await reopened.class_ids() == [CLASS]
    # The journal opened before the crash replaces its dropped connection.
    await journal.append(CLASS, records(51, 51))
    assert await reopened.last_seq(CLASS) == 51
    await journal.close()
    await reopened.close()


async def test_redis_client_must_return_bytes(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    with pytest.raises(ValueError):
        RedisJournal(client)
    await client.aclose()


async def test_close_leaves_a_borrowed_client_open(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    journal = RedisJournal(client, f"test-{uuid.uuid4().hex}")
    await journal.append(CLASS, records(1, 1))
    await journal.close()
    assert await client.ping()
    await client.aclose()


async def test_an_append_under_a_lost_lease_is_refused(redis_server: RedisServer) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_server.url)
    journal = RedisJournal(client, prefix)
    lease = f"{prefix}:lease:{CLASS}"
    await client.set(lease, "http://a 1")
    mine = Fence(lease, "http://a 1")
    await journal.append(CLASS, records(1, 2), mine)
    await client.set(lease, "http://b 2")  # another node took the class
    with pytest.raises(JournalFenced):
        await journal.append(CLASS, records(3, 3), mine)
    await journal.append(CLASS, records(3, 4), Fence(lease, "http://b 2"))
    await client.delete(lease)  # expired, nobody holds it: nobody may write
    with pytest.raises(JournalFenced):
        await journal.append(CLASS, records(5, 5), Fence(lease, "http://b 2"))
    assert await collect(journal) == records(1, 4)
    await journal.close()
    await client.aclose()


async def test_durability_of_the_redis_configuration(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    assert await durability_problems(client) == []
    await client.config_set("appendfsync", "everysec")
    try:
        assert await durability_problems(client) == ["appendfsync is 'everysec', not 'always'"]
    finally:
        await client.config_set("appendfsync", "always")
        await client.aclose()

"""A journal kept in Redis: one stream per class, the stream id being the seq.

Record `seq` is the stream entry `{seq}-1` with one field `e` holding the
payload. A Lua script appends, so contiguity and the lease (the fence) are
checked atomically with the write. Durability comes from the server's
configuration (`appendonly yes`, `appendfsync always`), which
`durability_problems` reads at start-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import redis.asyncio as redis
from redis.exceptions import ConnectionError, RedisError, ResponseError, TimeoutError
from redis.typing import StreamRangeResponse

from journal.contract import (
    Fence,
    JournalConflict,
    JournalError,
    JournalFenced,
    Record,
    check_class_id,
    check_records,
)

PAGE = 500
FIELD = b"e"

# Each append call is one script run, so it is all-or-nothing, and it checks
# what makes an append safe in the same atomic step as the writes: that the
# appending node still holds the class's lease (when fenced), and that the
# first seq follows the stream's last one. XADD alone would accept any larger
# id, leaving a hole after a lost write or two histories after a split brain.
# KEYS: the class stream, the set of class ids, [the lease key].
# ARGV: class id, lease token, first seq, then id/payload pairs.
APPEND_SCRIPT = """
if #KEYS == 3 and redis.call('GET', KEYS[3]) ~= ARGV[2] then
  return redis.error_reply('FENCED the lease of this class is not held by the writer')
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last_seq = 0
if #last > 0 then
  last_seq = tonumber(string.match(last[1][1], '^(%d+)-'))
end
if tonumber(ARGV[3]) ~= last_seq + 1 then
  return redis.error_reply('CONFLICT seq ' .. ARGV[3] .. ' does not follow the last stored one')
end
for i = 4, #ARGV, 2 do
  redis.call('XADD', KEYS[1], ARGV[i], 'e', ARGV[i + 1])
end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

_Waiter = asyncio.Future[None]
T = TypeVar("T")
P = ParamSpec("P")


_Append = tuple[Sequence[Record], Fence | None]


@dataclass(eq=False)
class _Queue:
    """Appends of one class waiting for its writer, in call order."""

    pending: list[tuple[_Append, _Waiter]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None


class RedisJournal:
    """Streams `{prefix}:journal:{class_id}` and the set `{prefix}:classes`."""

    def __init__(self, client: redis.Redis, prefix: str = "classroom") -> None:
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("the journal needs a client with decode_responses=False")
        self._client = client
        self._prefix = prefix
        self._owns_client = False
        self._queues: dict[str, _Queue] = {}
        self._closed = False

    @classmethod
    def from_url(cls, url: str, prefix: str = "classroom") -> RedisJournal:
        """A journal with its own client, closed by `close()`."""
        journal = cls(redis.Redis.from_url(url), prefix)
        journal._owns_client = True
        return journal

    async def append(
        self, class_id: str, records: Sequence[Record], fence: Fence | None = None
    ) -> None:
        check_class_id(class_id)
        check_records(records)
        if self._closed:
            raise JournalError("the journal is closed")
        if not records:
            return
        # One writer per class sends appends in call order; those that queue
        # up while it waits for Redis go together in its next round trip.
        done: _Waiter = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(class_id, _Queue())
        queue.pending.append(((records, fence), done))
        if queue.writer is None:
            queue.writer = asyncio.create_task(self._write(class_id, queue))
        await asyncio.shield(done)

    async def read(self, class_id: str, after_seq: int = 0) -> AsyncIterator[Record]:
        check_class_id(class_id)
        start: bytes | str = f"({after_seq}-1"
        while True:
            entries = await self._call(self._page, self._key(class_id), start)
            for entry_id, fields in entries or []:
                payload = None if fields is None else fields.get(FIELD)
                assert isinstance(entry_id, bytes) and isinstance(payload, bytes)
                yield _seq(entry_id), payload
            if not entries or len(entries) < PAGE:
                return
            last_id = entries[-1][0]
            assert isinstance(last_id, bytes)
            start = b"(" + last_id

    async def last_seq(self, class_id: str) -> int:
        check_class_id(class_id)
        last = await self._call(self._client.xrevrange, self._key(class_id), "+", "-", 1)
        if not last:
            return 0
        entry_id = last[0][0]
        assert isinstance(entry_id, bytes)
        return _seq(entry_id)

    async def class_ids(self) -> list[str]:
        members = await self._call(self._client.smembers, f"{self._prefix}:classes")
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def close(self) -> None:
        self._closed = True
        writers = [q.writer for q in self._queues.values() if q.writer is not None]
        await asyncio.gather(*writers, return_exceptions=True)
        if self._owns_client:
            self._owns_client = False  # close() may be called again
            await self._client.aclose()

    def _key(self, class_id: str) -> str:
        return f"{self._prefix}:journal:{class_id}"

    def _page(self, key: str, start: bytes | str) -> Awaitable[StreamRangeResponse | None]:
        return self._client.xrange(key, start, "+", PAGE)

    async def _call(self, command: Callable[P, Awaitable[T]], *args: P.args, **kw: P.kwargs) -> T:
        """Run a read, once more on a fresh connection if Redis dropped the first one."""
        try:
            try:
                return await command(*args, **kw)
            except (ConnectionError, TimeoutError):
                return await command(*args, **kw)  # e.g. Redis restarted: reads can be rerun
        except RedisError as e:
            raise JournalError(f"redis: {e}") from e

    async def _write(self, class_id: str, queue: _Queue) -> None:
        try:
            while queue.pending:
                batch, queue.pending = queue.pending, []
                await self._send(class_id, batch)
        finally:
            queue.writer = None
            if queue.pending:  # only when cancelled at shutdown
                _fail([w for _r, w in queue.pending], JournalError("the journal was shut down"))
            else:
                del self._queues[class_id]

    async def _send(self, class_id: str, batch: list[tuple[_Append, _Waiter]]) -> None:
        try:
            results = await self._resend_once(class_id, [append for append, _w in batch])
        except BaseException as e:
            error = JournalError(f"redis: {e}")
            error.__cause__ = e
            _fail([w for _r, w in batch], error)
            if not isinstance(e, Exception):
                raise
            return
        for (_records, waiter), result in zip(batch, results, strict=True):
            if isinstance(result, JournalError):
                waiter.set_exception(result)
            else:
                waiter.set_result(None)

    async def _resend_once(self, class_id: str, appends: list[_Append]) -> list[object]:
        """Run the appends; if the connection dropped, run them again on a new one.

        A dropped connection leaves each (atomic) script run or not, so the
        second run refuses those that ran: a refusal over exactly our records
        is then a success.
        """
        try:
            return await self._run_scripts(class_id, appends)
        except (ConnectionError, TimeoutError):
            results = await self._run_scripts(class_id, appends)
        for i, (records, _fence) in enumerate(appends):
            if isinstance(results[i], JournalError) and await self._stored(class_id, records):
                results[i] = None
        return results

    async def _run_scripts(self, class_id: str, appends: list[_Append]) -> list[object]:
        async with self._client.pipeline(transaction=False) as pipe:
            for records, fence in appends:
                keys = [self._key(class_id), f"{self._prefix}:classes"]
                token = ""
                if fence is not None:
                    keys.append(fence.key)
                    token = fence.token
                pairs = [arg for seq, payload in records for arg in (f"{seq}-1", payload)]
                args = [class_id, token, records[0][0], *pairs]
                pipe.eval(APPEND_SCRIPT, len(keys), *keys, *args)
            results = await pipe.execute(raise_on_error=False)
        return [_journal_error(r) if isinstance(r, Exception) else r for r in results]

    async def _stored(self, class_id: str, records: Sequence[Record]) -> bool:
        first, last = f"{records[0][0]}-1", f"{records[-1][0]}-1"
        entries = await self._client.xrange(self._key(class_id), first, last)
        stored = [(_seq(i), f.get(FIELD)) for i, f in entries or [] if isinstance(i, bytes) and f]
        return stored == list(records)


def _seq(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[0])


def _journal_error(error: Exception) -> JournalError:
    if isinstance(error, ResponseError) and str(error).startswith("CONFLICT"):
        return JournalConflict(f"redis: {error}")
    if isinstance(error, ResponseError) and str(error).startswith("FENCED"):
        return JournalFenced(f"redis: {error}")
    return JournalError(f"redis: {error}")


def _fail(waiters: list[_Waiter], error: JournalError) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_exception(error)


async def durability_problems(client: redis.Redis) -> list[str] | None:
    """What in the Redis server's configuration could lose an acknowledged append.

    An append is acknowledged once Redis answers it; only an append-only file
    fsynced on every write keeps it through a crash of Redis or its machine.
    None when the configuration cannot be read (managed services often
    disable CONFIG).
    """
    try:
        found = await client.config_get("append*")
    except RedisError:
        return None
    config = {_text(k): _text(v) for k, v in found.items()}
    problems = []
    if config.get("appendonly") != "yes":
        problems.append(f"appendonly is {config.get('appendonly')!r}, not 'yes'")
    if config.get("appendfsync") != "always":
        problems.append(f"appendfsync is {config.get('appendfsync')!r}, not 'always'")
    return problems


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

"""A journal kept in one append-only file per class, with group commit.

Each record is a fixed header `<IQI` (payload length, seq, CRC-32 of the
payload) followed by the payload. `append` writes synchronously, so
concurrent appends land in call order, then waits for a shared fsync: one
background flusher syncs every file with pending writes, and appends that
arrive while it runs join the next round.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import shutil
import struct
import time
import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from journal.contract import (
    Fence,
    JournalError,
    Record,
    check_class_id,
    check_records,
)

log = logging.getLogger(__name__)

HEADER = struct.Struct("<IQI")
MAX_PAYLOAD = 2**32 - 1
CHUNK = 1 << 20
"""Bytes read per step when scanning or reading a file."""

TORN_TAIL_MAX = CHUNK
"""A bad tail larger than this is kept aside: a corrupt length can hide many records."""

SUFFIX = ".journal"

_Durable = asyncio.Future[None]


@dataclass(eq=False)
class _ClassFile:
    """An open class file. Sizes only ever cover whole records."""

    path: Path
    fd: int
    size: int
    last_seq: int
    durable_size: int
    durable_seq: int
    next_sync: _Durable | None = None
    broken: JournalError | None = None


_Mark = tuple[_ClassFile, int, int, _Durable | None]
"""A file in a sync round, with its size, last seq and waiters when the round began."""


class FileJournal:
    """Journal files `{directory}/{class_id}.journal`; one process may use a directory."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_directory(directory)
        self._files: dict[str, _ClassFile] = {}
        self._opening: dict[str, asyncio.Task[_ClassFile]] = {}
        # Appends that arrived while their file was being opened, in call order.
        self._queued: dict[str, list[tuple[Sequence[Record], asyncio.Future[_Durable]]]] = {}
        self._dirty: dict[_ClassFile, None] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self.fsync_count = 0
        """fsync calls made on journal files (directories excluded)."""

    async def append(
        self, class_id: str, records: Sequence[Record], fence: Fence | None = None
    ) -> None:
        # No fence to check: the directory lock already makes this process the
        # only writer of these files.
        check_class_id(class_id)
        check_records(records)
        for seq, payload in records:
            if len(payload) > MAX_PAYLOAD:
                raise ValueError(f"payload of seq {seq} exceeds {MAX_PAYLOAD} bytes")
        if self._closed:
            raise JournalError("the journal is closed")
        if not records:
            return
        cf = self._files.get(class_id)
        if cf is not None:
            durable = self._write(cf, records)
        else:
            durable = await asyncio.shield(self._queue_until_open(class_id, records))
        # Shielded: a cancelled caller must not cancel the fsync shared by others.
        await asyncio.shield(durable)

    async def read(self, class_id: str, after_seq: int = 0) -> AsyncIterator[Record]:
        check_class_id(class_id)
        cf = await self._existing(class_id)
        if cf is None:
            return
        # Up to what was durable now: later bytes may be a record being written.
        cursor = _Cursor(await asyncio.to_thread(_open_read, cf.path), cf.durable_size)
        try:
            while batch := await asyncio.to_thread(cursor.next_batch):
                for record in batch:
                    if record[0] > after_seq:
                        yield record
            if cursor.error is not None:
                log.warning("%s changed while read: %s", cf.path, cursor.error)
        finally:
            os.close(cursor.fd)

    async def last_seq(self, class_id: str) -> int:
        check_class_id(class_id)
        cf = await self._existing(class_id)
        return 0 if cf is None else cf.last_seq

    async def class_ids(self) -> list[str]:
        names = await asyncio.to_thread(self._non_empty_files)
        return sorted(name.removesuffix(SUFFIX) for name in names)

    async def close(self) -> None:
        self._closed = True
        await asyncio.gather(*self._opening.values(), return_exceptions=True)
        while self._flusher is not None:
            await asyncio.shield(self._flusher)
        files, self._files = list(self._files.values()), {}
        for cf in files:
            os.close(cf.fd)
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the directory lock
            self._lock_fd = -1

    def _path(self, class_id: str) -> Path:
        return self._dir / f"{class_id}{SUFFIX}"

    def _non_empty_files(self) -> list[str]:
        found = []
        for entry in os.scandir(self._dir):
            if entry.name.endswith(SUFFIX) and entry.stat().st_size > 0:
                found.append(entry.name)
        return found

    async def _existing(self, class_id: str) -> _ClassFile | None:
        """The open file of the class, opening it if it exists; None when it does not."""
        cf = self._files.get(class_id)
        if cf is not None:
            return cf
        if class_id not in self._opening:
            if not await asyncio.to_thread(self._path(class_id).exists):
                return None
            if self._closed:
                raise JournalError("the journal is closed")
        return await asyncio.shield(self._open(class_id))

    def _queue_until_open(
        self, class_id: str, records: Sequence[Record]
    ) -> asyncio.Future[_Durable]:
        written: asyncio.Future[_Durable] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(class_id, []).append((records, written))
        self._open(class_id)
        return written

    def _open(self, class_id: str) -> asyncio.Task[_ClassFile]:
        """The task opening the class's file, started on first use."""
        task = self._opening.get(class_id)
        if task is None:
            task = asyncio.create_task(self._open_and_drain(class_id))
            task.add_done_callback(_retrieve_exception)
            self._opening[class_id] = task
        return task

    async def _open_and_drain(self, class_id: str) -> _ClassFile:
        try:
            cf = await asyncio.to_thread(self._open_file, class_id)
        except BaseException as e:
            error = JournalError(f"cannot open the journal of {class_id}: {e}")
            error.__cause__ = e
            for _records, written in self._queued.pop(class_id, []):
                written.set_exception(error)
            if isinstance(e, Exception):
                raise error from e
            raise
        finally:
            del self._opening[class_id]
        self._files[class_id] = cf
        # In the same step that publishes the file, so later appends come after.
        for records, written in self._queued.pop(class_id, []):
            try:
                written.set_result(self._write(cf, records))
            except Exception as e:  # only this caller's append fails
                written.set_exception(e)
        return cf

    def _open_file(self, class_id: str) -> _ClassFile:
        path = self._path(class_id)
        existed = path.exists()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            if existed:
                size, last_seq = _recover(fd, path)
            else:
                size, last_seq = 0, 0
                _fsync_directory(self._dir)
        except BaseException:
            os.close(fd)
            raise
        return _ClassFile(path, fd, size, last_seq, size, last_seq)

    def _write(self, cf: _ClassFile, records: Sequence[Record]) -> _Durable:
        """Write records at the end of the file; the future resolves once they are synced."""
        if cf.broken is not None:
            raise cf.broken
        check_records(records, cf.last_seq)
        data = _encode(records)
        try:
            _write_all(cf.fd, data)
        except OSError as e:
            self._truncate(cf, cf.size, e)
            raise JournalError(f"cannot write {cf.path}: {e}") from e
        cf.size += len(data)
        cf.last_seq = records[-1][0]
        return self._sync_later(cf)

    def _sync_later(self, cf: _ClassFile) -> _Durable:
        if cf.next_sync is None:
            cf.next_sync = asyncio.get_running_loop().create_future()
        self._dirty[cf] = None
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return cf.next_sync

    async def _flush(self) -> None:
        try:
            while self._dirty:
                batch = list(self._dirty)
                self._dirty.clear()
                await self._sync_round(batch)
        finally:
            self._flusher = None

    async def _sync_round(self, batch: list[_ClassFile]) -> None:
        marks: list[_Mark] = [(cf, cf.size, cf.last_seq, cf.next_sync) for cf in batch]
        for cf in batch:
            cf.next_sync = None
        self.fsync_count += len(batch)
        try:
            errors = await asyncio.to_thread(_fsync_each, [cf.fd for cf in batch])
        except BaseException as e:  # cancelled at shutdown: nobody may wait forever
            self._settle(marks, [e] * len(batch))
            raise
        self._settle(marks, errors)

    def _settle(self, marks: list[_Mark], errors: Sequence[BaseException | None]) -> None:
        for (cf, size, last_seq, waiter), error in zip(marks, errors, strict=True):
            assert waiter is not None
            if error is None:
                cf.durable_size, cf.durable_seq = size, last_seq
                waiter.set_result(None)
            else:
                self._sync_failed(cf, waiter, error)

    def _sync_failed(self, cf: _ClassFile, waiter: _Durable, error: BaseException) -> None:
        # After a failed fsync the kernel may have dropped the dirty pages, and
        # a retry can falsely succeed: drop everything not known durable.
        log.error("fsync of %s failed: %s", cf.path, error)
        failure = JournalError(f"cannot sync {cf.path}: {error}")
        for pending in (waiter, cf.next_sync):
            if pending is not None and not pending.done():
                pending.set_exception(failure)
        cf.next_sync = None
        self._dirty.pop(cf, None)
        self._truncate(cf, cf.durable_size, error)
        cf.last_seq = cf.durable_seq

    def _truncate(self, cf: _ClassFile, size: int, cause: BaseException) -> None:
        """Cut off a failed write; if even that fails, refuse further appends."""
        try:
            os.ftruncate(cf.fd, size)
            cf.size = size
        except OSError as e:
            log.error("cannot truncate %s after %s: %s", cf.path, cause, e)
            cf.broken = JournalError(f"{cf.path} is in an unknown state after {cause}")


class _Cursor:
    """Reads the valid records of [0, end) of a file, stopping at the first invalid one."""

    def __init__(self, fd: int, end: int) -> None:
        self.fd = fd
        self.end = end
        self.offset = 0
        self.last_seq = 0
        self.error: str | None = None
        self.bad_end = 0
        """Where the invalid record would end according to its header."""

    def next_batch(self) -> list[Record]:
        """The next records; empty at the end or at the first invalid record."""
        want = CHUNK
        while self.offset < self.end and self.error is None:
            start = self.offset
            buf = os.pread(self.fd, min(want, self.end - start), start)
            if len(buf) < min(want, self.end - start):  # the file shrank under us
                self.end = start + len(buf)
            records, need = self._parse(buf)
            if records or self.error is not None:
                return records
            if start + len(buf) >= self.end:
                self.error = "truncated record"
                self.bad_end = start + need
            want = need  # a record larger than a chunk
        return []

    def _parse(self, buf: bytes) -> tuple[list[Record], int]:
        """Whole valid records at the start of buf, and the size the next one needs."""
        records: list[Record] = []
        pos = 0
        while len(buf) - pos >= HEADER.size:
            length, seq, crc = HEADER.unpack_from(buf, pos)
            stop = pos + HEADER.size + length
            if stop > len(buf):
                self.offset += pos
                return records, stop - pos
            payload = buf[pos + HEADER.size : stop]
            if seq <= self.last_seq or zlib.crc32(payload) != crc:
                self.error = f"invalid record at offset {self.offset + pos}"
                self.bad_end = self.offset + stop
                break
            records.append((seq, payload))
            self.last_seq = seq
            pos = stop
        self.offset += pos
        return records, HEADER.size


def _lock_directory(directory: Path) -> int:
    """Hold `{directory}/.lock` for as long as this journal is open.

    Two processes appending to one class file would interleave records and
    both believe their seqs; the kernel drops the lock when a process dies,
    so a restart after `kill -9` is not refused.
    """
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalError(
            f"another server is using the journal in {directory}; servers cannot share a"
            " data directory (give each its own --data-dir, or run a cluster with --redis-url)"
        ) from None
    return fd


def _encode(records: Sequence[Record]) -> bytes:
    parts = []
    for seq, payload in records:
        parts.append(HEADER.pack(len(payload), seq, zlib.crc32(payload)))
        parts.append(payload)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _open_read(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def _fsync_each(fds: list[int]) -> list[BaseException | None]:
    errors: list[BaseException | None] = []
    for fd in fds:
        try:
            os.fsync(fd)
            errors.append(None)
        except OSError as e:
            errors.append(e)
    return errors


def _fsync_directory(directory: Path) -> None:
    """Make a new file's directory entry durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _recover(fd: int, path: Path) -> tuple[int, int]:
    """Scan a file and cut off anything after its valid prefix: (valid size, last seq)."""
    size = os.fstat(fd).st_size
    cursor = _Cursor(fd, size)
    while cursor.next_batch():
        pass
    if cursor.error is None:
        return size, cursor.last_seq
    valid = cursor.offset
    torn = cursor.bad_end >= size and size - valid <= TORN_TAIL_MAX
    if torn or _all_zero(fd, valid, size):
        # A crash mid-append: the last record is incomplete, or its blocks were never written.
        log.warning("%s: dropping a torn last record (%d bytes)", path, size - valid)
    else:
        copy = _keep_damaged_copy(path)
        log.warning(
            "%s is damaged (%s): kept its first %d of %d bytes; the original is saved as %s",
            path,
            cursor.error,
            valid,
            size,
            copy,
        )
    os.ftruncate(fd, valid)
    os.fsync(fd)
    return valid, cursor.last_seq


def _all_zero(fd: int, start: int, end: int) -> bool:
    while start < end:
        chunk = os.pread(fd, min(CHUNK, end - start), start)
        if not chunk or chunk.count(0) != len(chunk):
            return False
        start += len(chunk)
    return True


def _keep_damaged_copy(path: Path) -> Path:
    stamp = int(time.time())
    copy = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 0
    while copy.exists():
        n += 1
        copy = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    shutil.copyfile(path, copy)
    with open(copy, "rb") as f:
        os.fsync(f.fileno())
    _fsync_directory(path.parent)
    return copy


def _retrieve_exception(task: asyncio.Task[_ClassFile]) -> None:
    """Opening errors reach the waiting callers; don't also log them as unretrieved."""
    if not task.cancelled():
        task.exception()

"""Where the LTI tool keeps what must outlive a restart: platforms, keys, links, members.

A small key-value store in named spaces, with two backends:

- files (one server): `DATA_DIR/lti/<space>/<key>.json`, each written to a
  temporary file, fsynced and renamed into place, so a reader (another
  process, such as `classroom lti add-platform` while the server runs) sees
  the old value or the new one, never a part;
- Redis (a cluster): one hash per space, `classroom:lti:<space>`, so every
  node reads what any node or the command wrote.

Values are small JSON documents. Nothing is cached here: a server reads the
registrations anew at each launch, so a platform added or removed by the
command counts at once, without a restart.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

import redis.asyncio as redis

NAME = re.compile(r"^[A-Za-z0-9_@-][A-Za-z0-9_.@-]{0,127}$")
"""Spaces' parts and keys: ids only, never a path of someone's choosing."""


class StoreError(Exception):
    """The store cannot be read or written now."""


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"not a store name: {name!r}")
    return name


def check_space(space: str) -> str:
    for part in space.split("/"):
        check_name(part)
    return space


class Store(Protocol):
    async def get(self, space: str, key: str) -> bytes | None: ...

    async def put(self, space: str, key: str, value: bytes) -> None: ...

    async def put_new(self, space: str, key: str, value: bytes) -> bool:
        """Store `value` unless `key` holds one already; whether it was stored."""

    async def delete(self, space: str, key: str) -> bool: ...

    async def all(self, space: str) -> dict[str, bytes]: ...

    async def close(self) -> None: ...


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, space: str, key: str) -> Path:
        return self.root / check_space(space) / (check_name(key) + ".json")

    async def get(self, space: str, key: str) -> bytes | None:
        return await asyncio.to_thread(_read, self._path(space, key))

    async def put(self, space: str, key: str, value: bytes) -> None:
        await asyncio.to_thread(_write, self._path(space, key), value, True)

    async def put_new(self, space: str, key: str, value: bytes) -> bool:
        return await asyncio.to_thread(_write, self._path(space, key), value, False)

    async def delete(self, space: str, key: str) -> bool:
        return await asyncio.to_thread(_unlink, self._path(space, key))

    async def all(self, space: str) -> dict[str, bytes]:
        return await asyncio.to_thread(_read_all, self.root / check_space(space))

    async def close(self) -> None:
        return None


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc


def _write(path: Path, value: bytes, replace: bool) -> bool:
    """Write atomically; with `replace` False, only where nothing is (link, not rename)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(value)
                out.flush()
                os.fsync(out.fileno())
            if replace:
                os.replace(tmp, path)
            else:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    return False
        finally:
            Path(tmp).unlink(missing_ok=True)
        _sync_dir(path.parent)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc}") from exc
    return True


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreError(f"cannot delete {path}: {exc}") from exc
    _sync_dir(path.parent)
    return True


def _read_all(folder: Path) -> dict[str, bytes]:
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return {}
    out = {}
    for name in names:
        if name.endswith(".json") and not name.startswith("."):
            value = _read(folder / name)
            if value is not None:
                out[name.removesuffix(".json")] = value
    return out


class RedisStore:
    def __init__(self, client: redis.Redis, prefix: str = "classroom:lti") -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "classroom:lti") -> RedisStore:
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5), prefix)

    def _hash(self, space: str) -> str:
        return f"{self.prefix}:{check_space(space)}"

    async def get(self, space: str, key: str) -> bytes | None:
        try:
            value = await self.client.hget(self._hash(space), check_name(key))
        except redis.RedisError as exc:
            raise StoreError(f"Redis: {exc}") from exc
        return as_bytes(value)

    async def put(self, space: str, key: str, value: bytes) -> None:
        try:
            await self.client.hset(self._hash(space), check_name(key), value)
        except redis.RedisError as exc:
            raise StoreError(f"Redis: {exc}") from exc

    async def put_new(self, space: str, key: str, value: bytes) -> bool:
        try:
            return bool(await self.client.hsetnx(self._hash(space), check_name(key), value))
        except redis.RedisError as exc:
            raise StoreError(f"Redis: {exc}") from exc

    async def delete(self, space: str, key: str) -> bool:
        try:
            return bool(await self.client.hdel(self._hash(space), check_name(key)))
        except redis.RedisError as exc:
            raise StoreError(f"Redis: {exc}") from exc

    async def all(self, space: str) -> dict[str, bytes]:
        try:
            found = await self.client.hgetall(self._hash(space))
        except redis.RedisError as exc:
            raise StoreError(f"Redis: {exc}") from exc
        out = {_text(k): as_bytes(v) for k, v in found.items()}
        return {k: v for k, v in sorted(out.items()) if v is not None}

    async def close(self) -> None:
        await self.client.aclose()


def as_bytes(value: bytes | str | None) -> bytes | None:
    """What redis-py answers (bytes, as the clients here never decode), typed as such."""
    return value.encode() if isinstance(value, str) else value


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def open_store(data_dir: Path, redis_url: str = "") -> Store:
    """Redis in a cluster (every node reads it), else files in the data directory."""
    if redis_url:
        return RedisStore.from_url(redis_url)
    return FileStore(data_dir / "lti")

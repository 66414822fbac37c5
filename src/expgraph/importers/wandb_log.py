"""Replay a W&B ``.wandb`` transaction log without the SDK's (removed) Python reader.

The log is LevelDB-log style: a 7-byte file header (``:W&B``, magic ``0xBEE1``, version 0), then 32 KiB blocks
of chunks, each with a 7-byte header (CRC32 of type byte + payload, length, type FULL/FIRST/MIDDLE/LAST). A
record too short for its block's tail is skipped as padding. The payloads are serialised protobuf ``Record``
messages whose classes ship in the ``wandb`` package. A killed process leaves a torn tail (a chunk cut short or
a record missing its LAST chunk): that is a warning, the complete records before it are kept. A bad checksum
or an impossible length before the tail is corruption and an error.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expgraph.importers.base import SourceError, require

BLOCK = 32 * 1024
CHUNK_HEADER = struct.Struct("<IHB")  # crc32, length, type
FILE_HEADER = struct.Struct("<4sHB")  # ident, magic, version
IDENT, MAGIC, VERSION = b":W&B", 0xBEE1, 0
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_TYPE_SEED = {kind: zlib.crc32(bytes([kind])) for kind in (FULL, FIRST, MIDDLE, LAST)}


@dataclass
class Replay:
    """The complete records of one log and, when it ends early, why (``torn``)."""

    records: list[Any] = field(default_factory=list)
    torn: str | None = None


def chunks(path: Path, data: bytes) -> tuple[list[bytes], str | None]:
    """Split the log into record payloads; returns them and a description of a torn tail, if any."""
    if len(data) < FILE_HEADER.size:
        return [], f"{len(data)}-byte log has no complete file header"
    ident, magic, version = FILE_HEADER.unpack_from(data)
    if ident != IDENT or magic != MAGIC:
        raise SourceError(path, "not a W&B transaction log (bad file header)")
    if version != VERSION:
        raise SourceError(path, f"unsupported W&B log version {version} (this reader knows {VERSION})")
    payloads: list[bytes] = []
    pending: list[bytes] | None = None
    offset = FILE_HEADER.size
    while offset < len(data):
        room = BLOCK - offset % BLOCK
        if room < CHUNK_HEADER.size:  # block trailer: padding
            offset += room
            continue
        if offset + CHUNK_HEADER.size > len(data):
            return payloads, f"torn chunk header at byte {offset}"
        crc, length, kind = CHUNK_HEADER.unpack_from(data, offset)
        if kind == 0 and length == 0 and crc == 0:  # zero fill up to the block end
            offset += room
            continue
        start, end = offset + CHUNK_HEADER.size, offset + CHUNK_HEADER.size + length
        if kind not in _TYPE_SEED or end - offset > room:
            if end >= len(data):
                return payloads, f"torn chunk at byte {offset}"
            raise SourceError(path, f"corrupt chunk header at byte {offset} (type {kind}, length {length})")
        if end > len(data):
            return payloads, f"chunk at byte {offset} cut short ({len(data) - start} of {length} bytes)"
        payload = data[start:end]
        if zlib.crc32(payload, _TYPE_SEED[kind]) & 0xFFFFFFFF != crc:
            if end >= len(data):
                return payloads, f"bad checksum in the last chunk at byte {offset}"
            raise SourceError(path, f"checksum mismatch at byte {offset}: the log is corrupt")
        offset = end
        if kind == FULL:
            payloads.append(payload)
            pending = None
        elif kind == FIRST:
            pending = [payload]
        elif pending is None:
            raise SourceError(path, f"chunk at byte {offset} continues a record that never started")
        else:
            pending.append(payload)
            if kind == LAST:
                payloads.append(b"".join(pending))
                pending = None
    if pending is not None:
        return payloads, "the last record is missing its final chunk"
    return payloads, None


def replay(path: Path, data: bytes | None = None) -> Replay:
    """Parse every complete record of a ``.wandb`` log (``data``: its bytes, when already read) into
    ``wandb_internal_pb2.Record`` messages."""
    pb = require("wandb.proto.wandb_internal_pb2", "wandb")
    from google.protobuf.message import DecodeError

    data = path.read_bytes() if data is None else data
    payloads, torn = chunks(path, data)
    records = []
    for index, payload in enumerate(payloads):
        record = pb.Record()
        try:
            record.ParseFromString(payload)
        except DecodeError as error:
            raise SourceError(path, f"record {index + 1} is not a W&B Record message: {error}") from None
        records.append(record)
    return Replay(records=records, torn=torn)

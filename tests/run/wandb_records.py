"""The history an offline W&B run wrote, read from its ``run-ID.wandb`` file without W&B's
service: the file is ``:W&B``, a 2-byte magic and a version byte, then LevelDB's log format
(32 KiB blocks of chunks, each ``crc32 (4) | length (2, little-endian) | type (1)``, a record
whole in one chunk or split as first, middle..., last), each record one protobuf ``Record`` of
``wandb.proto.wandb_internal_pb2``. Used to check what ``jaxrl.run.tracking.Wandb`` logged."""

from __future__ import annotations

import glob
import json
import os
import struct

BLOCK = 32 * 1024
HEADER = 7  # b":W&B", magic, version
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _payloads(data: bytes):
    assert data[:4] == b":W&B", data[:8]
    pos, pending = HEADER, b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:  # a block's tail too short for a chunk header is padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        payload = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == FULL:
            yield payload
        elif kind == FIRST:
            pending = payload
        elif kind == MIDDLE:
            pending += payload
        elif kind == LAST:
            yield pending + payload
        else:  # zero padding at the end of a block
            pos += BLOCK - pos % BLOCK if pos % BLOCK else 0


def history(workdir) -> list[dict]:
    """Every ``run.log`` call of the work directory's offline W&B run(s), in order."""
    from wandb.proto import wandb_internal_pb2

    rows = []
    for path in sorted(glob.glob(os.path.join(str(workdir), "wandb", "offline-run-*", "*.wandb"))):
        with open(path, "rb") as f:
            for payload in _payloads(f.read()):
                record = wandb_internal_pb2.Record.FromString(payload)
                if record.WhichOneof("record_type") == "history":
                    items = record.history.item
                    rows.append(
                        {
                            item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in items
                        }
                    )
    return rows

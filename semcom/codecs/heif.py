"""The HEVC payload of a single-image HEIF file, and the file rebuilt from it.

libheif writes one coded image as an ISO-BMFF file: ``ftyp``, a ``meta`` box (handler, item
location ``iloc``, item info, primary item, item properties: the HEVC decoder configuration
``hvcC``, colour ``colr``, size ``ispe``, bit depth ``pixi``, their association ``ipma``) and
``mdat`` with the coded slice NAL units. For a given encoder version and settings every box
except ``hvcC``, ``ispe``, the ``iloc`` extent and ``mdat`` is the same for every image; ``ispe``
holds the image size, which the receiver knows. What a receiver needs is therefore the HEVC
payload:

    hvcC decoder configuration record (VPS/SPS/PPS with their headers)  + slice NAL units
                                                                          (each with a 4-byte length)

Both parts delimit themselves (the record by its NAL array counts and lengths, the NAL units by
their length prefixes; a zero length prefix, i.e. the zero padding of the last code block, ends
them), so no extra length field is sent. :func:`rebuild_heif` puts the payload back into the
container of a reference file that both sides produce from the codec settings alone (an encoding
of a small flat image); for an error-free payload the result is byte for byte the encoder's file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

#: Boxes whose payload is a list of child boxes, with the bytes before the children
#: (FullBox version and flags for ``meta``).
_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0}


class HeifFormatError(ValueError):
    """The bytes are not the single-image HEIF layout this module handles."""


@dataclass
class Box:
    """One ISO-BMFF box: ``kind`` (4 bytes) and either raw ``data`` or ``children``."""

    kind: bytes
    data: bytes = b""
    children: list[Box] | None = None
    prefix: bytes = b""  # bytes before the children (FullBox header) for containers
    extra: dict = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        body = self.prefix + b"".join(c.to_bytes() for c in self.children) if self.children is not None else self.data
        return struct.pack(">I4s", 8 + len(body), self.kind) + body


def parse_boxes(buf: bytes, start: int = 0, end: int | None = None) -> list[Box]:
    """Boxes in ``buf[start:end]`` (recursing into meta/iprp/ipco)."""
    end = len(buf) if end is None else end
    out, off = [], start
    while off < end:
        if off + 8 > end:
            raise HeifFormatError("truncated box header")
        size, kind = struct.unpack(">I4s", buf[off : off + 8])
        hdr = 8
        if size == 1:
            size, hdr = struct.unpack(">Q", buf[off + 8 : off + 16])[0], 16
        elif size == 0:
            size = end - off
        if size < hdr or off + size > end:
            raise HeifFormatError(f"box {kind!r} of size {size} overruns the file")
        body = buf[off + hdr : off + size]
        if kind in _CONTAINERS:
            skip = _CONTAINERS[kind]
            out.append(Box(kind, prefix=bytes(body[:skip]), children=parse_boxes(body, skip, len(body))))
        else:
            out.append(Box(kind, data=bytes(body)))
        off += size
    return out


def _find(boxes: list[Box], kind: bytes) -> Box:
    for b in boxes:
        if b.kind == kind:
            return b
    raise HeifFormatError(f"no {kind.decode()} box")


def _meta_parts(boxes: list[Box]) -> tuple[Box, Box, Box, Box]:
    meta = _find(boxes, b"meta")
    iloc = _find(meta.children, b"iloc")
    ipco = _find(_find(meta.children, b"iprp").children, b"ipco")
    return meta, iloc, ipco, _find(boxes, b"mdat")


def _iloc_fields(data: bytes) -> tuple[int, int, int, int, int]:
    """(version, offset_size, length_size, base_offset_size, index_size) of an iloc box."""
    version = data[0]
    offset_size, length_size = data[4] >> 4, data[4] & 15
    base_offset_size, index_size = data[5] >> 4, (data[5] & 15) if version in (1, 2) else 0
    return version, offset_size, length_size, base_offset_size, index_size


def _int(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big") if size else b""


def _write_iloc(template: bytes, item_id: int, offset: int, length: int) -> bytes:
    """An iloc box body with the template's field sizes and one item with one extent."""
    version, osz, lsz, bsz, isz = _iloc_fields(template)
    head = template[:6]
    id_size = 4 if version == 2 else 2
    body = head + _int(1, 4 if version == 2 else 2)
    body += _int(item_id, id_size)
    if version in (1, 2):
        body += _int(0, 2)  # construction_method 0: file offset
    # libheif puts the file offset in base_offset and 0 in the extent offset; do the same
    base, extent_offset = (offset, 0) if bsz else (0, offset)
    body += _int(0, 2) + _int(base, bsz) + _int(1, 2)  # data_reference_index, base_offset, extent_count
    body += _int(0, isz) if version in (1, 2) and isz else b""
    return body + _int(extent_offset, osz) + _int(length, lsz)


def _iloc_item(data: bytes) -> tuple[int, int, int]:
    """(item_id, file offset, length) of the one extent of a one-item iloc body."""
    version, osz, lsz, bsz, isz = _iloc_fields(data)
    pos = 6
    count = int.from_bytes(data[pos : pos + (4 if version == 2 else 2)], "big")
    pos += 4 if version == 2 else 2
    if count != 1:
        raise HeifFormatError(f"iloc lists {count} items; expected one coded image")
    id_size = 4 if version == 2 else 2
    item_id = int.from_bytes(data[pos : pos + id_size], "big")
    pos += id_size + (2 if version in (1, 2) else 0) + 2
    base = int.from_bytes(data[pos : pos + bsz], "big")
    pos += bsz
    extents = int.from_bytes(data[pos : pos + 2], "big")
    pos += 2
    if extents != 1:
        raise HeifFormatError(f"iloc item has {extents} extents; expected one")
    pos += isz if version in (1, 2) else 0
    offset = int.from_bytes(data[pos : pos + osz], "big")
    length = int.from_bytes(data[pos + osz : pos + osz + lsz], "big")
    return item_id, base + offset, length


def hvcc_length(buf: bytes, start: int = 0) -> int:
    """Length in bytes of the HEVCDecoderConfigurationRecord starting at ``buf[start]``."""
    pos = start + 22
    if pos >= len(buf):
        raise HeifFormatError("truncated hvcC record")
    arrays = buf[pos]
    pos += 1
    for _ in range(arrays):
        if pos + 3 > len(buf):
            raise HeifFormatError("truncated hvcC NAL array")
        count = int.from_bytes(buf[pos + 1 : pos + 3], "big")
        pos += 3
        for _ in range(count):
            if pos + 2 > len(buf):
                raise HeifFormatError("truncated hvcC NAL unit")
            pos += 2 + int.from_bytes(buf[pos : pos + 2], "big")
    if pos > len(buf):
        raise HeifFormatError("truncated hvcC NAL unit")
    return pos - start


def nal_units_length(buf: bytes, start: int = 0) -> int:
    """Bytes of 4-byte-length-prefixed NAL units from ``start`` up to a zero prefix or the end.

    A prefix that overruns the buffer (a corrupted length) ends the walk there as well.
    """
    pos = start
    while pos + 4 <= len(buf):
        n = int.from_bytes(buf[pos : pos + 4], "big")
        if n == 0 or pos + 4 + n > len(buf):
            break
        pos += 4 + n
    return pos - start


def heif_payload(heif: bytes) -> bytes:
    """The HEVC payload of a single-image HEIF file: hvcC record + the coded NAL units."""
    boxes = parse_boxes(heif)
    _, iloc, ipco, _ = _meta_parts(boxes)
    _, offset, length = _iloc_item(iloc.data)
    return _find(ipco.children, b"hvcC").data + heif[offset : offset + length]


def split_payload(payload: bytes) -> tuple[bytes, bytes]:
    """(hvcC record, NAL units) of a payload, dropping trailing zero padding."""
    n = hvcc_length(payload)
    return payload[:n], payload[n : n + nal_units_length(payload, n)]


def rebuild_heif(reference: bytes, payload: bytes, width: int | None = None, height: int | None = None) -> bytes:
    """A HEIF file with ``reference``'s container around ``payload`` (see module docstring).

    ``width``/``height`` rewrite the reference's ``ispe`` size; leave them out when the reference
    was made at the image's own size (its ``ispe`` and ``clap`` are then already right).
    """
    hvcc, nals = split_payload(payload)
    if not nals:
        raise HeifFormatError("payload holds no coded NAL unit")
    boxes = parse_boxes(reference)
    meta, iloc, ipco, mdat = _meta_parts(boxes)
    _find(ipco.children, b"hvcC").data = hvcc
    if width is not None and height is not None:
        ispe = _find(ipco.children, b"ispe")
        ispe.data = ispe.data[:4] + struct.pack(">II", int(width), int(height))
    item_id, _, _ = _iloc_item(iloc.data)
    mdat.data = nals
    # the extent offset depends on the sizes of the boxes before mdat; they do not depend on it
    iloc.data = _write_iloc(iloc.data, item_id, 0, len(nals))
    head = b"".join(b.to_bytes() for b in boxes[: boxes.index(mdat)])
    iloc.data = _write_iloc(iloc.data, item_id, len(head) + 8, len(nals))
    return b"".join(b.to_bytes() for b in boxes)

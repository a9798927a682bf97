"""The host-link protocol's software side: the checksum and the address map.

The checksum comes from ``amaranth.lib.crc`` (the same parameters build the
gateware's CRC); these tests pin the bytes on the wire: the catalog's check
value, frames recorded from the hand-written CRC-16 the link used before, and
an independent bit-serial model over random data.
"""

import struct

import numpy as np
import pytest
from amaranth.lib.crc import catalog

from lela import contract
from lela import protocol as P

#: Frames as the link sent them before its CRC came from the library.
KNOWN_FRAMES = [
    "a5010000fbac",              # STATUS request
    "a5020100014eb9",            # SET_MODE train
    "a52006000300200104003d1f",  # READ_MEM 4 words from layer 1, counters, index 3
    "5a01010000c544",            # response: STATUS rejected, CRC
    "5a21000000c53a",            # response: WRITE_MEM OK
]


def crc16_bitwise(data):
    """CRC-16/CCITT-FALSE bit by bit: polynomial 0x1021, MSB first, init 0xFFFF."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def test_the_crc_is_ccitt_false():
    assert P.CRC.algorithm.crc_width == 16 and P.CRC.data_width == 8
    for same in (catalog.CRC16_CCITT_FALSE, catalog.CRC16_IBM_3740):
        assert repr(P.CRC.algorithm) == repr(same)
    assert P.crc16(b"123456789") == 0x29B1  # the catalogue's check value
    assert P.crc16(b"") == 0xFFFF
    assert P.CRC.residue() == 0
    assert P.CRC_BYTES == 2


@pytest.mark.parametrize("hex_frame", KNOWN_FRAMES)
def test_known_frames_keep_their_checksum(hex_frame):
    frame = bytes.fromhex(hex_frame)
    body, crc = frame[1:-2], frame[-2:]
    assert struct.pack(">H", P.crc16(body)) == crc, hex_frame
    assert P.crc16(frame[1:]) == 0, hex_frame


def test_crc_matches_a_bitwise_model():
    seed = 12
    rng = np.random.default_rng(seed)
    for n in (1, 2, 7, 64, 1025):
        data = rng.integers(0, 256, size=n).astype(np.uint8).tobytes()
        assert P.crc16(data) == crc16_bitwise(data), f"seed {seed}, {n} bytes"


def test_addresses_are_the_contracts():
    assert P.address is contract.access_address
    assert (P.SPACE_W, P.SPACE_B, P.SPACE_COUNTERS, P.SPACE_INFO) == (
        contract.SPACE_W, contract.SPACE_B, contract.SPACE_COUNTERS, contract.SPACE_INFO)
    assert P.address(1, P.SPACE_COUNTERS, 3) == 0x01200003
    assert contract.split_access_address(P.address(5, P.SPACE_INFO, 7)) == (5, P.SPACE_INFO, 7)

"""The framed host-link protocol: constants and byte layouts shared by the
gateware (:mod:`lela.boards.hostlink`) and the host driver (:mod:`lela.host.driver`).

Frames
------
Request (host to board)::

    SYNC_REQUEST  command  length_lo length_hi  payload[length]  crc_hi crc_lo

Response (board to host)::

    SYNC_RESPONSE  command  status  length_lo length_hi  payload[length]  crc_hi crc_lo

The checksum is :data:`CRC`, CRC-16/CCITT-FALSE (polynomial 0x1021, initial
value 0xFFFF, no reflection, no final XOR), over every byte after the sync
byte and before the checksum, sent most significant byte first; running the
same CRC over a whole frame after its sync byte, checksum included, leaves 0
(the algorithm's residue). Multi-byte fields of headers and payloads are
little-endian.

The addresses of READ_MEM and WRITE_MEM are the access port's
(:func:`lela.contract.access_address`); this module passes the contract's
names on (``SPACE_*``, :func:`address`) for the host driver and the tests.

Every request gets exactly one response, whose ``command`` echoes the
request's (0 when the request had no readable command) and whose ``status``
is one of :class:`Status`. A request that is rejected changes nothing on the
board.
"""

from __future__ import annotations

import enum
import struct

from amaranth.lib.crc import catalog

from lela.contract import (
    SPACE_B,
    SPACE_CONTROL,
    SPACE_COUNTERS,
    SPACE_INFO,
    SPACE_W,
    access_address,
)

__all__ = [
    "ADDRESS_BYTES",
    "COUNT_BYTES",
    "CRC",
    "CRC_BYTES",
    "LABEL_BYTES",
    "PROTOCOL_VERSION",
    "REQUEST_HEADER",
    "RESPONSE_HEADER",
    "SPACE_B",
    "SPACE_CONTROL",
    "SPACE_COUNTERS",
    "SPACE_INFO",
    "SPACE_W",
    "STATUS_BYTES",
    "STATUS_FORMAT",
    "SYNC_REQUEST",
    "SYNC_RESPONSE",
    "THRESHOLD_BYTES",
    "WORD_BYTES",
    "Command",
    "Mode",
    "Status",
    "act_bytes",
    "address",
    "crc16",
    "result_bytes",
    "sample_payload_bytes",
]

PROTOCOL_VERSION = 1

SYNC_REQUEST = 0xA5
SYNC_RESPONSE = 0x5A
#: bytes of a request header (sync, command, 2 length bytes)
REQUEST_HEADER = 4
#: bytes of a response header (sync, command, status, 2 length bytes)
RESPONSE_HEADER = 5
#: The frames' checksum, a byte at a time: CRC-16/CCITT-FALSE (the same
#: catalog entry as CRC-16/IBM-3740), whose residue is 0. The gateware's
#: :class:`~amaranth.lib.crc.Processor` and :func:`crc16` are both made from it.
CRC = catalog.CRC16_CCITT_FALSE(data_width=8)
#: bytes of a frame's checksum
CRC_BYTES = CRC.algorithm.crc_width // 8


class Command(enum.IntEnum):
    """Request commands. Payload layouts are in docs/boards.md."""

    STATUS = 0x01         #: -> status block (:data:`STATUS_FORMAT`)
    SET_MODE = 0x02       #: u8 mode (:class:`Mode` bits)
    SET_THRESHOLD = 0x03  #: u32 early-exit threshold (score format, unsigned)
    SAMPLE = 0x10         #: u16 label, then N_0 inputs of act_bytes each
    READ_RESULTS = 0x11   #: u8 n -> n result records (waits for samples in flight)
    READ_MEM = 0x20       #: u32 address, u16 count -> count u32 words
    WRITE_MEM = 0x21      #: u32 address, then u32 words


class Status(enum.IntEnum):
    """Response status codes."""

    OK = 0x00
    CRC = 0x01        #: the frame's checksum is wrong
    LENGTH = 0x02     #: length too large for the buffer, or wrong for the command
    COMMAND = 0x03    #: unknown command
    ADDRESS = 0x04    #: address out of range, or a write to a read-only space
    TRAINING = 0x05   #: weight write while training (train mode set or a sample in flight)
    BUSY = 0x06       #: no room for another result, or a static setting changed mid-flight
    VALUE = 0x07      #: a field's value is out of range (label, count, mode, threshold, word)
    TIMEOUT = 0x08    #: a frame stopped arriving half-way (inter-byte timeout)
    SYNC = 0x09       #: bytes outside a frame that are not the sync byte


class Mode(enum.IntFlag):
    """Bits of the SET_MODE payload and of the status flags."""

    TRAIN = 0x01       #: samples are fed with train = 1 (weights learn); weight writes refused
    EARLY_EXIT = 0x02  #: inference samples may leave at an early layer


#: flags bit of the status block: a sample is in flight
FLAG_BUSY = 0x04

#: STATUS payload: version, flags, in flight, results waiting, result depth,
#: layers, max payload, N_0, classes, act_width, weight_width, threshold,
#: rejected-frame count.
STATUS_FORMAT = "<BBBBBBHHHBBIH"
STATUS_BYTES = struct.calcsize(STATUS_FORMAT)

WORD_BYTES = 4
LABEL_BYTES = 2
THRESHOLD_BYTES = 4
ADDRESS_BYTES = 4
COUNT_BYTES = 2

#: Access-port address of ``index`` in ``space`` of ``layer`` (the contract's).
address = access_address


def act_bytes(cfg):
    """Bytes of one input value in a SAMPLE payload (two's complement, little-endian)."""
    return (cfg.act_width + 7) // 8


def sample_payload_bytes(cfg):
    """Bytes of a SAMPLE payload: the u16 label, then ``N_0`` inputs of :func:`act_bytes`."""
    return LABEL_BYTES + cfg.sizes[0] * act_bytes(cfg)


def result_bytes(cfg):
    """Bytes of one result record: u16 prediction per layer, u8 exit layer,
    u16 label, u8 flags (bit 0: train)."""
    return 2 * cfg.layers + 1 + LABEL_BYTES + 1


def crc16(data):
    """:data:`CRC` of the bytes ``data`` (``crc16(b"123456789") == 0x29B1``).

    Parameters
    ----------
    data : bytes-like or iterable of int
        The bytes after a frame's sync byte (with or without its checksum).

    Returns
    -------
    int
        The 16-bit checksum; 0 for a whole frame whose checksum is right.
    """
    return CRC.compute(data)

"""A simulated ISO 14443-A card (4-, 7- or 10-byte UID) for the MFRC522 chip simulation.

It answers REQA, WUPA, anticollision, SELECT and HLTA as ISO 14443-3 says, with real CRC_A.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

REQA, WUPA, HLTA = 0x26, 0x52, 0x50
PARITY_ERR, COLL_ERR = 0x02, 0x08  # ErrorReg bits the reader's receiver raises
SEL_CODES = (0x93, 0x95, 0x97)
CASCADE_TAG = 0x88


def crc_a(data: bytes, preset: int = 0x6363) -> int:
    """ISO 14443-3 CRC_A (x^16 + x^12 + x^5 + 1, bits LSB first); sent low byte first."""
    crc = preset
    for byte in data:
        mixed = byte ^ (crc & 0xFF)
        mixed = (mixed ^ (mixed << 4)) & 0xFF
        crc = (crc >> 8) ^ (mixed << 8) ^ (mixed << 3) ^ (mixed >> 4)
    return crc & 0xFFFF


def crc_bytes(data: bytes) -> bytes:
    return crc_a(data).to_bytes(2, "little")


class CardState(Enum):
    IDLE = "idle"
    READY = "ready"
    ACTIVE = "active"
    HALT = "halt"


class Corruption(StrEnum):
    """What the next suitable frame from the card suffers on its way to the reader."""

    BCC = "bcc"  # next anticollision answer
    CRC = "crc"  # next SAK
    PARITY = "parity"  # next frame of any kind
    COLLISION = "collision"  # next frame of any kind


@dataclass(frozen=True)
class Answer:
    data: bytes
    last_bits: int = 0
    errors: int = 0  # ErrorReg bits the reader's receiver raises for this frame


class SimulatedCard:
    """An ISO 14443-A card (4-, 7- or 10-byte UID) with the 14443-3 state machine."""

    def __init__(self, uid: bytes, sak: int | None = None) -> None:
        if len(uid) not in (4, 7, 10) or (len(uid) == 4 and uid[0] == CASCADE_TAG):
            raise ValueError(f"not an ISO 14443-A UID: {uid.hex()}")
        self.uid = uid
        self.sak = (0x08 if len(uid) == 4 else 0x00) if sak is None else sak
        self.state = CardState.IDLE
        self._from_halt = False  # the READY*/ACTIVE* states: a failure goes back to HALT
        self._level = 0
        self._corruption: Corruption | None = None

    def corrupt_next(self, kind: Corruption) -> None:
        self._corruption = kind

    def power_off(self) -> None:
        self.state, self._from_halt, self._level = CardState.IDLE, False, 0

    def receive(self, frame: bytes, tx_last_bits: int) -> Answer | None:
        if tx_last_bits == 7 and len(frame) == 1:
            return self._short_frame(frame[0])
        if tx_last_bits or self.state in (CardState.IDLE, CardState.HALT):
            return None
        if self.state is CardState.READY:
            return self._cascade(frame)
        if frame == bytes([HLTA, 0x00]) + crc_bytes(frame[:2]):
            self.state = CardState.HALT
            return None
        self._fall_back()
        return None

    def _short_frame(self, command: int) -> Answer | None:
        wakes = command == WUPA or (command == REQA and self.state is CardState.IDLE)
        if self.state in (CardState.IDLE, CardState.HALT):
            if not wakes:
                return None
            self._from_halt = self.state is CardState.HALT
            self.state, self._level = CardState.READY, 0
            size_bits = {4: 0x00, 7: 0x40, 10: 0x80}[len(self.uid)]
            return self._send(bytes([size_bits | 0x04, 0x00]), frame_kind="atqa")
        # In READY or ACTIVE any unexpected frame, REQA and WUPA included, is a failure.
        self._fall_back()
        return None

    def _cascade(self, frame: bytes) -> Answer | None:
        if len(frame) == 2 and frame == bytes([SEL_CODES[self._level], 0x20]):
            return self._send(self._level_bytes(), frame_kind="anticollision")
        if len(frame) == 9 and frame[:2] == bytes([SEL_CODES[self._level], 0x70]):
            return self._select(frame)
        self._fall_back()
        return None

    def _select(self, frame: bytes) -> Answer | None:
        if frame[7:] != crc_bytes(frame[:7]) or frame[2:7] != self._level_bytes():
            self._fall_back()
            return None
        if self._level == len(self._levels()) - 1:
            self.state, sak = CardState.ACTIVE, self.sak
        else:
            self._level, sak = self._level + 1, 0x04
        return self._send(bytes([sak]) + crc_bytes(bytes([sak])), frame_kind="sak")

    def _fall_back(self) -> None:
        """Any failure in READY or ACTIVE: back to IDLE (or HALT), silently (14443-3 §6.3)."""
        self.state = CardState.HALT if self._from_halt else CardState.IDLE
        self._level = 0

    def _levels(self) -> list[bytes]:
        uid, tag = self.uid, bytes([CASCADE_TAG])
        if len(uid) == 4:
            return [uid]
        if len(uid) == 7:
            return [tag + uid[:3], uid[3:]]
        return [tag + uid[:3], tag + uid[3:6], uid[6:]]

    def _level_bytes(self) -> bytes:
        part = self._levels()[self._level]
        return part + bytes([part[0] ^ part[1] ^ part[2] ^ part[3]])

    def _send(self, data: bytes, *, frame_kind: str) -> Answer:
        kind = self._corruption
        if kind in (Corruption.PARITY, Corruption.COLLISION):
            self._corruption = None
            errors = PARITY_ERR if kind is Corruption.PARITY else COLL_ERR
            return Answer(bytes(b ^ 0x10 for b in data), errors=errors)
        if (kind, frame_kind) in ((Corruption.BCC, "anticollision"), (Corruption.CRC, "sak")):
            self._corruption = None
            return Answer(data[:-1] + bytes([data[-1] ^ 0x5A]))
        return Answer(data)

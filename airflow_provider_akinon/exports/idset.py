"""A set of integer ids as a bitmap: one bit per id of the range seen, whatever the number of records."""

from __future__ import annotations

from collections.abc import Iterable


class IdSet:
    """
    Integer ids in a growable bitmap. Akinon ids are dense, so a window of 200,000 orders costs about
    25 KB, where a Python set would cost megabytes: memory stays bounded by the id range / 8.
    Not thread-safe: one thread writes a set (each shard has its own).
    """

    def __init__(self) -> None:
        self._base: int | None = None
        self._bits = bytearray()
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __contains__(self, value: int) -> bool:
        offset = value - (self._base or 0)
        return (
            self._base is not None
            and 0 <= offset < len(self._bits) * 8
            and bool(self._bits[offset >> 3] & (1 << (offset & 7)))
        )

    def _grow(self, value: int) -> int:
        if self._base is None:
            self._base = value & ~7
        if value < self._base:
            shift = ((self._base - value) + 7) // 8
            self._bits[:0] = bytes(shift)
            self._base -= shift * 8
        offset = value - self._base
        if offset >> 3 >= len(self._bits):
            self._bits.extend(bytes(max((offset >> 3) + 1 - len(self._bits), len(self._bits) // 2)))
        return offset

    def add(self, value: int) -> bool:
        """Add ``value``; ``True`` when it was not in the set yet."""
        offset = self._grow(value)
        byte, bit = offset >> 3, 1 << (offset & 7)
        if self._bits[byte] & bit:
            return False
        self._bits[byte] |= bit
        self._len += 1
        return True

    def update(self, values: Iterable[int]) -> None:
        """Add every id of ``values``."""
        for value in values:
            self.add(value)

    def __iter__(self):
        base = self._base or 0
        for byte_index, byte in enumerate(self._bits):
            if byte:
                for bit in range(8):
                    if byte & (1 << bit):
                        yield base + byte_index * 8 + bit

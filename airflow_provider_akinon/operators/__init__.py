"""Operators: exports of Akinon lists to object storage, their arguments and extra links."""

from __future__ import annotations

"""What a new field or a changed type does to an export: the user's ``schema_contract``, per list.

Two kinds of change, as dlt's contracts name them: ``columns`` (a field the schema does not have yet)
and ``data_type`` (a field whose values no longer fit its type). Each takes one mode:

- ``evolve`` (default): a new field becomes a nullable column; a value of another type lands in a variant
  column named for its type (``price__string``), the column keeping its type.
- ``freeze``: the export is refused before anything is published, naming the field and both types.
- ``discard_value``: the value is dropped (NULL), and the record's ``_errors`` says what and why.
- ``discard_row``: the record is left out, counted and listed (``discarded_rows``) in the manifest.

``schema_contract="freeze"`` sets both; ``{"columns": "evolve", "data_type": "freeze"}`` sets each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_akinon.errors import AkinonConfigError

MODES = ("evolve", "freeze", "discard_value", "discard_row")
KINDS = ("columns", "data_type")


@dataclass(frozen=True)
class Contract:
    """The modes of one export: ``columns`` for new fields, ``data_type`` for changed types."""

    columns: str = "evolve"
    data_type: str = "evolve"

    @classmethod
    def of(cls, value: Any) -> Contract:
        """``value`` (a mode, a dict of modes by kind, a :class:`Contract` or ``None``) as a contract."""
        if value is None or isinstance(value, Contract):
            return value or cls()
        if isinstance(value, str):
            return cls(**dict.fromkeys(KINDS, _mode(value)))
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(KINDS))
            if unknown:
                raise AkinonConfigError(
                    f"schema_contract has no {', '.join(map(repr, unknown))}; its kinds are "
                    f"{', '.join(KINDS)}, each one of {', '.join(MODES)}."
                )
            return cls(**{kind: _mode(mode) for kind, mode in value.items()})
        raise AkinonConfigError(
            f"schema_contract={value!r}: give a mode ({', '.join(MODES)}) or a dict of them by kind "
            f"({', '.join(KINDS)})."
        )

    def as_dict(self) -> dict[str, str]:
        """The contract as the manifest records it."""
        return {"columns": self.columns, "data_type": self.data_type}


def _mode(value: Any) -> str:
    if value not in MODES:
        raise AkinonConfigError(f"schema_contract mode {value!r} is unknown; use one of {', '.join(MODES)}.")
    return str(value)

"""How a history table is laid out (:class:`HistoryOptions`): its validity columns' names, the open end, what
makes a new version, and whether a deletion that ends a version is a row of its own.

The rules of :mod:`~.versions` decide rows in their own names (``valid_from``, ``valid_to``,
``is_current``, an open end of NULL); :meth:`HistoryOptions.inward` and :meth:`HistoryOptions.outward`
translate a table's rows to them and back, so every option keeps those rules' promise: the same versions
and deletions give the same rows, in whatever order and however often they come.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from airflow_provider_akinon.errors import AkinonConfigError
from airflow_provider_akinon.exports.tables.versions import CURRENT, FOLDED, VALID_FROM, VALID_TO, Row

__all__ = ["CONTENT", "FOLDED", "GONE", "HIGH_DATE", "HistoryOptions", "content_hash"]

#: the hash of a version's content (``version_on="content"``): its record without the version field
CONTENT = "_content_hash"
#: a history row the rules no longer decide (a version folded, a deletion now carried by a version)
GONE = "_gone"

#: the high date of ``open_end="high"``, as Kimball's type-2 dimensions close an open version
HIGH_DATE = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class HistoryOptions:
    """
    The layout of a history table (``history=True`` is these defaults).

    :param valid_from: the column a version starts at.
    :param valid_to: the column a version ends at (the next version, or the deletion that ended it).
    :param is_current: the column that is true on the live version of a record.
    :param open_end: what ``valid_to`` holds while a version is open: ``None`` (NULL), ``"high"``
        (9999-12-31) or a date or instant of your own.
    :param version_on: ``"version"``: a new ``modified_date`` is a new version; ``"content"``: only a
        change of the record's content is (a new ``modified_date`` with the same content extends the
        version it repeats; their starts are kept in ``_folded_from``).
    :param deletion_rows: ``True``: every deletion is a row of its own; ``False``: a deletion that ends a
        version closes it (``valid_to`` and ``_deleted_at``) without a row; one that ends no version
        known keeps its row, so it still ends a version that comes later.
    """

    valid_from: str = VALID_FROM
    valid_to: str = VALID_TO
    is_current: str = CURRENT
    open_end: Any = None
    version_on: str = "version"
    deletion_rows: bool = True

    def __post_init__(self) -> None:
        names = (self.valid_from, self.valid_to, self.is_current)
        if len(set(names)) != 3 or not all(isinstance(n, str) and n for n in names):
            raise AkinonConfigError(
                f"history's validity columns must be three different names, not {names!r}."
            )
        if self.version_on not in ("version", "content"):
            raise AkinonConfigError(
                f"history version_on={self.version_on!r}: use 'version' (a new modified_date is a new "
                "version) or 'content' (only a change of content is)."
            )
        object.__setattr__(self, "open_end", _open_end(self.open_end))

    @classmethod
    def of(cls, history: Any) -> HistoryOptions | None:
        """The options ``history=`` gives: ``False``/``None`` none, ``True`` the defaults, a mapping or
        :class:`HistoryOptions` as given."""
        if history is None or history is False:
            return None
        if history is True:
            return cls()
        if isinstance(history, HistoryOptions):
            return history
        if isinstance(history, dict):
            given = dict(history)
            validity = given.pop("validity_columns", None)
            known = set(cls.__dataclass_fields__)
            unknown = sorted(set(given) - known)
            if unknown:
                raise AkinonConfigError(
                    f"history options {unknown} are unknown; the options are "
                    f"{sorted(known | {'validity_columns'})}."
                )
            if validity is not None:
                if not isinstance(validity, list | tuple) or len(validity) not in (2, 3):
                    raise AkinonConfigError(
                        f"history validity_columns={validity!r}: give the names of valid_from and valid_to "
                        "(and is_current), such as ('valid_from', 'valid_to')."
                    )
                given.update(zip(("valid_from", "valid_to", "is_current"), validity, strict=False))
            return cls(**given)
        raise AkinonConfigError(f"history={history!r}: give True, a dict of options or HistoryOptions(...).")

    @property
    def content(self) -> bool:
        """Whether versions are told by their content (``version_on="content"``)."""
        return self.version_on == "content"

    @property
    def names(self) -> dict[str, str]:
        """The rules' names of the validity columns to this table's."""
        return {VALID_FROM: self.valid_from, VALID_TO: self.valid_to, CURRENT: self.is_current}

    def inward(self, row: Row) -> Row:
        """A row of the table in the rules' names, with an open end as NULL."""
        out = {inner: row.get(outer) for inner, outer in self.names.items()}
        rest = {k: v for k, v in row.items() if k not in self.names.values()}
        if self.open_end is not None and out[VALID_TO] == self.open_end:
            out[VALID_TO] = None
        return {**rest, **out}

    def outward(self, row: Row) -> Row:
        """A decided row in this table's names, with its open end."""
        out = {outer: row.get(inner) for inner, outer in self.names.items()}
        if out[self.valid_to] is None and self.open_end is not None and row.get(CURRENT):
            out[self.valid_to] = self.open_end
        return {**{k: v for k, v in row.items() if k not in self.names}, **out}

    def check(self, columns: list[str] | None) -> None:
        """Refuse a table laid out otherwise: its validity columns, or a content hash, differ."""
        if columns is None:
            return
        missing = [n for n in self.names.values() if n not in columns]
        if missing or self.content != (CONTENT in columns):
            laid = "with" if CONTENT in columns else "without"
            raise AkinonConfigError(
                f"The history table is laid out otherwise ({laid} {CONTENT}; its columns {columns[-6:]}), "
                f"not as history={self!r} asks: give the options it was created with, or a folder of its own."
            )


def content_hash(row: Row, version: str) -> str:
    """The hash of a version's content: its record (``_record``) without the version field, keys sorted."""
    record = row.get("_record")
    body = orjson.loads(record) if isinstance(record, str | bytes) else {}
    body.pop(version, None)
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def _open_end(value: Any) -> datetime | None:
    if value is None:
        return None
    if value == "high":
        return HIGH_DATE
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _open_end(datetime.fromisoformat(value))
        except ValueError:
            pass
    raise AkinonConfigError(
        f"history open_end={value!r}: give None (NULL), 'high' (9999-12-31), or a date such as '9999-12-31'."
    )

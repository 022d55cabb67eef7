"""The ``akinon://`` assets of the example DAGs: ``akinon://<connection>/<list>`` names a list of a tenant.

Registered in provider info (``asset-uris``) so Airflow accepts the scheme and normalises its URIs: the
connection (the tenant) and the list name, lower-cased, without a trailing slash.
"""

from __future__ import annotations

from urllib.parse import SplitResult


def normalize_uri(parts: SplitResult) -> SplitResult:
    """``akinon://AKINON_default/orders/`` -> ``akinon://akinon_default/orders``."""
    if not parts.netloc or not parts.path.strip("/"):
        raise ValueError("an akinon asset names a connection and a list: akinon://<connection>/<list>")
    return SplitResult(parts.scheme, parts.netloc.lower(), "/" + parts.path.strip("/").lower(), "", "")


def asset_uri(conn_id: str, name: str) -> str:
    """The asset of list ``name`` of the tenant of connection ``conn_id``."""
    return f"akinon://{conn_id.lower()}/{name.lower()}"

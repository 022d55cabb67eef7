"""Django settings of the test tenant; ``DRF_TENANT_*`` environment variables choose DRF's alternatives.

- ``DRF_TENANT_DB``: the SQLite file; or ``DRF_TENANT_DATABASE``: a PostgreSQL database
  (``postgresql://user@host:port/name``), which several processes (web workers, the writer) share.
- ``DRF_TENANT_TZ``: ``TIME_ZONE`` (with ``USE_TZ``, DRF writes datetimes with that offset).
- ``DRF_TENANT_SWITCHES``: comma-separated: ``limit_offset`` (``LimitOffsetPagination``), ``cursor``
  (``CursorPagination``), ``no_ordering`` (no ``OrderingFilter``), ``ordering`` (the ordering parameter
  keeps DRF's stock name ``ordering``), ``no_id_lookups`` (the filtersets declare no id lookups),
  ``page_size_param`` (the page size is asked with ``page_size``, not ``limit``), ``fixed_page`` (no
  page-size parameter at all), ``date_only`` (date filters take ``YYYY-MM-DD`` days), ``no_date_lookups``,
  ``newest_first`` (a default order of the lists: newest id first).
- ``DRF_TENANT_THROTTLE``: the user throttle's rate (default ``60/s``).
- ``DRF_TENANT_DRIFT_FROM``: order items from this ``pk`` on carry a new field and a retyped one.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

SWITCHES = frozenset(filter(None, os.environ.get("DRF_TENANT_SWITCHES", "").split(",")))
#: order items from this ``pk`` on show an upgraded tenant's schema (views.OrderItemSerializer)
DRIFT_FROM = int(os.environ["DRF_TENANT_DRIFT_FROM"]) if os.environ.get("DRF_TENANT_DRIFT_FROM") else None
SECRET_KEY = "drf-tenant-for-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = os.environ.get("DRF_TENANT_TZ", "UTC")
ROOT_URLCONF = "tests.drf_tenant.views"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "tests.drf_tenant",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DRF_TENANT_DB", "/tmp/drf-tenant.sqlite3"),
        "OPTIONS": {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
    }
}
if os.environ.get("DRF_TENANT_DATABASE"):
    _url = urlsplit(os.environ["DRF_TENANT_DATABASE"])
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/"),
        "USER": _url.username or "postgres",
        "HOST": _url.hostname,
        "PORT": str(_url.port),
        "CONN_MAX_AGE": 60,
    }
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "PAGE_SIZE": 10,
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": os.environ.get("DRF_TENANT_THROTTLE", "60/s")},
    "ORDERING_PARAM": "ordering" if "ordering" in SWITCHES else "sort",
    "DATETIME_FORMAT": "iso-8601",
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

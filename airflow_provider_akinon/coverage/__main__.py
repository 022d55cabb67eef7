"""``python -m airflow_provider_akinon.coverage URI``: which days of a list are exported, and which drifted.

Reads the partitions under an export root (``date=``, ``hour=``), their manifests and leases, and says of
every day whether it is exported, missing, left by a failed run, or not due yet; with a connection, asks
the tenant (counted requests, ``--max-concurrency`` at a time) how many of each exported day's records
changed since its export. A Delta or Iceberg table shows its version, and with ``--changes`` the last hour
of the changes feed merged into it. Exit status 0 when every due day is exported and none drifted (a table:
every hour of the feed merged), 1 otherwise, 2 when the coverage could not be read or asked.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

from airflow_provider_akinon.quiet import quiet_airflow

if TYPE_CHECKING:
    from airflow_provider_akinon.coverage.reader import Coverage
    from airflow_provider_akinon.hooks.akinon import AkinonHook


def _day(value: str) -> date:
    """A ``YYYY-MM-DD`` argument."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day (YYYY-MM-DD)") from None


def parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_akinon.coverage", description=__doc__)
    parser.add_argument(
        "uri", help="the export root: s3://conn@bucket/prefix/akinon/orders/, a folder, a table"
    )
    parser.add_argument(
        "--conn", default="akinon_default", help="the akinon connection asked (default: %(default)s)"
    )
    parser.add_argument(
        "--list", default="orders", help="the list, where URI is a folder above its (default: orders)"
    )
    parser.add_argument("--from", dest="first", type=_day, help="first day (default: the first partition's)")
    parser.add_argument("--to", dest="last", type=_day, help="last day (default: yesterday, UTC)")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object a day")
    parser.add_argument("--no-drift", action="store_true", help="read storage only: ask the tenant nothing")
    parser.add_argument(
        "--max-concurrency", type=int, default=4, help="requests in flight at once (default: %(default)s)"
    )
    parser.add_argument(
        "--changes", help="a table's changes feed (its hour= partitions): the last hour merged"
    )
    parser.add_argument(
        "--every-day", action="store_true", help="a row a day (default: runs of like days on one)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Read the coverage and print it; return the exit status."""
    args = parser().parse_args(argv)
    # the table (or the JSON) is the output, and states what the logs would: Airflow reads this when first
    # imported, and the loggers of the requests are quieted where Airflow was imported before (a caller's)
    with quiet_airflow(), _quiet():
        return _run(args)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The provider's loggers, and those of its hook (Airflow 2: ``airflow.task``, and ``airflow.hooks`` for
    the connection read), at ERROR while the command runs."""
    loggers = [
        logging.getLogger(name) for name in ("airflow_provider_akinon", "airflow.task", "airflow.hooks")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _hook(base: type[AkinonHook], conn_id: str) -> AkinonHook:
    """The command's hook: one retry (a person waits: seconds, not minutes), and its log a standard logger,
    quieted with the provider's (Airflow 3's hook logs are configured once, when Airflow is imported)."""

    class CommandHook(base):  # type: ignore[valid-type,misc]
        @property
        def log(self) -> logging.Logger:
            return logging.getLogger("airflow_provider_akinon.coverage.requests")

    return CommandHook(conn_id, max_retries=1)


def _run(args: argparse.Namespace) -> int:
    """Read the coverage the arguments ask for and print it; return the exit status."""
    from airflow_provider_akinon.compat import AirflowException
    from airflow_provider_akinon.coverage.reader import read_coverage
    from airflow_provider_akinon.coverage.render import as_json, text
    from airflow_provider_akinon.errors import AkinonError
    from airflow_provider_akinon.hooks.akinon import AkinonHook

    hook = None if args.no_drift else _hook(AkinonHook, args.conn)
    try:
        if hook is not None:
            hook.config  # noqa: B018 - the connection, read before the storage is
    except AirflowException as err:
        print(f"Cannot use connection {args.conn!r}: {err} (--no-drift reads storage only)", file=sys.stderr)
        return 2
    try:
        coverage = read_coverage(
            args.uri,
            resource=args.list,
            first=args.first,
            last=args.last,
            hook=hook,
            max_concurrency=args.max_concurrency,
            changes=args.changes,
        )
    except AkinonError as err:
        print(f"Could not read the coverage of {args.uri}: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(as_json(coverage))
    else:
        print(_heading(coverage, args, None if hook is None else hook.host))
        print(text(coverage, every_day=args.every_day))
    return 0 if coverage.whole else 1


def _heading(coverage: Coverage, args: argparse.Namespace, host: str | None) -> str:
    """What was read and what was asked, above the table."""
    if not coverage.days:
        return f"Coverage of {coverage.uri}\n"
    days = coverage.days
    lines = [f"Coverage of {coverage.resource} at {coverage.uri}, {days[0].day} .. {days[-1].day} (UTC days)"]
    if host is None:
        lines.append("drift: not asked (--no-drift)")
    elif coverage.asked:
        lines.append(
            f"drift: asked of connection {args.conn!r} at {host}: {coverage.asked} requests, at most "
            f"{args.max_concurrency} at a time"
        )
    else:
        lines.append(f"drift: nothing asked of connection {args.conn!r} at {host}")
    return "\n".join(lines + coverage.notes) + "\n"


if __name__ == "__main__":
    sys.exit(main())

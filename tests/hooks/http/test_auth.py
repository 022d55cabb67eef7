"""Logins shared by threads: one login for all, and a failed one fails every thread that waited for it."""

from __future__ import annotations

import threading

import pytest

from airflow_provider_akinon.errors import AkinonApiError
from airflow_provider_akinon.hooks.http import auth

THREADS = 6


class CountedLogin(auth._Login):
    """A login under way that tells the test when threads start waiting for it."""

    arrived = threading.Condition()
    last: CountedLogin | None = None

    def __init__(self) -> None:
        self._waiters = 0
        super().__init__()
        CountedLogin.last = self

    @property
    def waiters(self) -> int:
        return self._waiters

    @waiters.setter
    def waiters(self, value: int) -> None:
        with CountedLogin.arrived:
            self._waiters = value
            CountedLogin.arrived.notify_all()


@pytest.mark.parametrize("when", ["first login", "login again after a 401"])
def test_a_failed_login_fails_every_thread_waiting_for_it_after_one_round(
    make_hook, server, monkeypatch, when
):
    hook = make_hook(max_retries=2)
    if when == "login again after a 401":
        hook.get("orders/", {"limit": 1})  # logged in; then the server forgets every token
        server.tokens.clear()
    server.faults.login_errors = 10_000  # every login answers 503 from now on
    monkeypatch.setattr(auth, "_Login", CountedLogin)
    held, real_login = threading.Event(), server._login

    def held_login(handler):  # the login's answers wait until every thread waits for that login
        held.wait(timeout=60)
        return real_login(handler)

    monkeypatch.setattr(server, "_login", held_login)
    errors: list[BaseException] = []

    def get() -> None:
        try:
            hook.get("orders/", {"limit": 1})
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=get) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    with CountedLogin.arrived:
        assert CountedLogin.arrived.wait_for(
            lambda: CountedLogin.last is not None and CountedLogin.last.waiters == THREADS - 1, timeout=60
        )
    held.set()
    for thread in threads:
        thread.join(timeout=60)
    assert len(errors) == THREADS
    assert all(isinstance(err, AkinonApiError) and "503" in str(err) for err in errors)
    assert server.log.faults["login_503"] == 3  # one round: the first try and max_retries=2 more, for all six


def test_threads_share_one_successful_login(make_hook, server):
    hook = make_hook()
    threads = [threading.Thread(target=hook.get, args=("orders/", {"limit": 1})) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert server.log.logins == 1

"""The signed session cookie and its CSRF token (itsdangerous underneath): what is refused."""

from __future__ import annotations

import time

import pytest

from tongdian.api import kbauth


def test_a_cookie_round_trips_and_binds_its_csrf_token() -> None:
    cookie = kbauth.make_cookie("tok-1", "王审核")
    s = kbauth.read_session("tok-1", cookie)
    assert s is not None and s.name == "王审核"
    csrf = kbauth.csrf_token("tok-1", s)
    assert kbauth.csrf_matches("tok-1", s, csrf)
    other = kbauth.read_session("tok-1", kbauth.make_cookie("tok-1", "王审核"))
    assert other is not None and not kbauth.csrf_matches("tok-1", other, csrf)  # another session
    assert not kbauth.csrf_matches("tok-1", s, "0" * 32)
    assert not kbauth.csrf_matches("tok-1", s, "非ascii")


@pytest.mark.parametrize("cookie", ["", "abc", "a.b.c.d", "x" * 500])
def test_garbage_cookies_are_no_session(cookie: str) -> None:
    assert kbauth.read_session("tok-1", cookie) is None


def test_an_altered_cookie_or_a_new_admin_token_signs_out() -> None:
    cookie = kbauth.make_cookie("tok-1", "a")
    head, _, sig = cookie.rpartition(".")
    assert kbauth.read_session("tok-1", f"{head}.{sig[::-1]}") is None
    assert kbauth.read_session("tok-2", cookie) is None
    assert kbauth.read_session(None, cookie) is None


def test_a_session_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = kbauth.make_cookie("tok-1", "a")
    later = time.time() + kbauth.SESSION_SECONDS + 5
    monkeypatch.setattr(time, "time", lambda: later)
    assert kbauth.read_session("tok-1", cookie) is None

"""course.checks.allow_old_thread_api, which 04_threads's tests call once, built without a kernel."""

from __future__ import annotations

import threading
import warnings

from course.checks import OLD_THREAD_API, allow_old_thread_api


def old_calls() -> None:
    """Call each deprecated Thread method once."""
    thread = threading.Thread(target=print)
    thread.setName(thread.getName())
    thread.setDaemon(thread.isDaemon())


def test_the_old_methods_warn_without_it() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old_calls()
    assert [w.category for w in caught] == [DeprecationWarning] * 4


def test_it_silences_the_old_methods_only() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        allow_old_thread_api()
        old_calls()
        warnings.warn("another deprecation", DeprecationWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["another deprecation"]


def test_calling_it_twice_adds_one_filter() -> None:
    with warnings.catch_warnings():
        before = len(warnings.filters)
        allow_old_thread_api()
        allow_old_thread_api()
        ours = [f for f in warnings.filters if f[1] is not None and f[1].pattern == OLD_THREAD_API]
        assert len(ours) == 1
        assert len(warnings.filters) == before + 1


def test_the_pattern_matches_each_message() -> None:
    import re

    for old, new in (("getName", "name"), ("setName", "name"), ("isDaemon", "daemon"), ("setDaemon", "daemon")):
        assert re.match(OLD_THREAD_API, f"{old}() is deprecated, use the {new} attribute instead")

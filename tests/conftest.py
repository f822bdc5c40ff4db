"""Shared test configuration.

- ``sandbox``: the session-wide running sandbox (see ``tests/sandbox_fixture.py``). Tests that use
  it are marked ``@pytest.mark.sandbox`` (automatically when they use the fixture) and split into two
  xdist groups (``--dist loadgroup``): each worker runs one group on its own sandbox.
- No accidental network: a test that connects anywhere but loopback fails, unless it is marked
  ``@pytest.mark.network``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_fixture import sandbox  # noqa: F401  (the session fixture)

# The slow sandbox tests are split in two groups of similar length; with `-n 2 --dist loadgroup`
# each group runs on its own worker with its own session sandbox (a sandbox idles at ~5% of a core).
# Measured with --durations (a quiet machine): the second group's e2e tests take ~12 min together,
# the first group's smoke, --model and fault tests ~10 min; the tools-on-sandbox test (~1.5 min)
# sits with the first.
_SECOND_SANDBOX = (
    "tests/e2e/test_learning_e2e.py",
    "tests/e2e/test_autonomous_flow.py",
    "tests/e2e/test_serve_kill_nodes.py",
    "tests/integration/test_sandbox_baseline.py",
)


_RUN_FIRST = "tests/integration/test_sandbox_baseline.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_sandbox = "sandbox" in getattr(item, "fixturenames", ())
        if uses_sandbox and item.get_closest_marker("sandbox") is None:
            item.add_marker(pytest.mark.sandbox)
        if item.get_closest_marker("sandbox") is not None:
            second = any(item.nodeid.startswith(path) for path in _SECOND_SANDBOX)
            item.add_marker(pytest.mark.xdist_group("sandbox-b" if second else "sandbox-a"))
    # the no-fault control must see a fresh sandbox: earlier tests leave slow-burn alerts that take
    # minutes to fade, so it runs first on its worker
    items.sort(key=lambda item: 0 if item.nodeid.startswith(_RUN_FIRST) else 1)


class NetworkBlocked(OSError):
    """A test tried to reach a host other than loopback."""


_real_connect = socket.socket.connect


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("network") is not None:
        yield
        return

    def guarded(self: socket.socket, address: Any) -> Any:
        if not _loopback(address):
            raise NetworkBlocked(
                f"test tried to connect to {address!r}: tests may only use loopback; "
                "mark the test @pytest.mark.network if it really needs the network"
            )
        return _real_connect(self, address)

    socket.socket.connect = guarded  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = _real_connect  # type: ignore[method-assign]

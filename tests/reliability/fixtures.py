"""Module-scoped fixtures shared by tests/reliability and tests/security (each conftest.py
imports them): one sandbox and one `sk` home for the many cases of a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveSandbox
from tests.reliability.harness import Setup, SkRunner, clean_process_environment, start_sandbox


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[LiveSandbox]:
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def runner(
    shared_sandbox: LiveSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SkRunner]:
    home = tmp_path_factory.mktemp("sk-home")
    with clean_process_environment(), pytest.MonkeyPatch.context() as patch:
        patch.chdir(home)  # no stray .env from the developer's checkout
        yield SkRunner(shared_sandbox, home)


@pytest.fixture(scope="module")
def setup(shared_sandbox: LiveSandbox) -> Setup:
    return Setup(shared_sandbox)

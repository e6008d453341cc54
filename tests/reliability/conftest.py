"""The module-scoped sandbox, `sk` runner and set-up client (tests/reliability/fixtures.py)."""

from tests.reliability.fixtures import runner, setup, shared_sandbox

__all__ = ["runner", "setup", "shared_sandbox"]

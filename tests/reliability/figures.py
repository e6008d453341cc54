"""The token-cache figures that `test_concurrency.py` asserts and docs/reliability.md quotes
(`test_reliability_doc.py` renders them from here and compares)."""

from __future__ import annotations

CONCURRENT_PROCESSES = 20
TOKEN_FILE_MODE = 0o600
TOKEN_DIRECTORY_MODE = 0o700
DAMAGE_KINDS = 9  # the damaged or foreign cache files test_concurrency.py tries

CACHE_FACTS: tuple[tuple[str, str], ...] = (
    ("`sk token` processes started at once, with a cold cache", f"{CONCURRENT_PROCESSES}"),
    ("of them that succeed", f"{CONCURRENT_PROCESSES}"),
    ("machine-token exchanges (`POST /oauth/token`) they make between them", "1"),
    ("reads of the cache file, while they ran, that were not valid JSON", "0"),
    (
        "mode of the cache file / of its directory",
        f"{TOKEN_FILE_MODE:04o} / {TOKEN_DIRECTORY_MODE:04o}",
    ),
    ("temporary files left behind", "0"),
    (f"damaged or foreign cache files ({DAMAGE_KINDS} kinds) that are trusted", "0"),
    ("requests to another environment, or for another client id, carrying the cached token", "0"),
)

SECTION_START = "<!-- generated from tests/reliability/figures.py: do not edit -->"
SECTION_END = "<!-- end of the generated cache figures -->"


def render_cache_facts() -> str:
    lines = ["| asserted | figure |", "| --- | --- |"]
    lines.extend(f"| {what} | {figure} |" for what, figure in CACHE_FACTS)
    return "\n\n".join([SECTION_START, "\n".join(lines), SECTION_END])

"""``make bench``: how fast an event turns into action and how far one deployment
stretches, measured against the raw Temporal baseline on the same machine.

Each benchmark module exposes ``async def run(size: Size) -> list[Figure]`` and runs the
hub's real code paths against a local Temporal dev server and the emulators. ``make
bench`` runs them at ``Size.FULL`` and writes ``bench/results.md`` and
``bench/results.json``; ``make test`` runs each once at ``Size.TINY`` (tests/bench) so
they keep working, without judging any timing.
"""

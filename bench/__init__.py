"""Side-by-side benchmarks of `sk` against what a user would run instead, as users run it.

`python -m bench.run` (`make bench`) starts `sk sandbox serve --tls` in its own process behind
a latency relay (bench/latency.py: a 40 ms round trip on loopback), runs each pair of commands
alternately (A B A B …) against `https://localhost:<relay port>`, prints min / median / max
and the median ratio of every pair, and writes docs/benchmarks.md. `--smoke` runs everything
once or twice under the same conditions and judges no timing (tests/bench); `--with-sdk`
(`make bench-sdk`) adds the official scalekit-sdk-python, installed into a throwaway venv.
The measured commands are only ever run as subprocesses, and the sandbox is set up only
through its public CLI, API and admin surface.
"""

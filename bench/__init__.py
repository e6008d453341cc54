"""Side-by-side benchmarks of `sk` against what a user would run instead.

`python -m bench.run` (`make bench`) starts the sandbox in its own process, runs each pair of
commands alternately (A B A B …), prints min / median / max and the median ratio of every pair,
and writes docs/benchmarks.md. `--smoke` runs everything once or twice, for CI; `--with-sdk`
(`make bench-sdk`) adds the official scalekit-sdk-python, installed into a throwaway venv.
"""

"""One module per command: an options dataclass, a `run(options, runtime)` function, and
`register(app)` that declares its Typer signature."""

"""The command-line face: the console script's entry, the Typer app, the global options."""

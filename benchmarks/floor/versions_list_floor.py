"""The least a `versions list --output json` can do with click and the libraries it needs
(platformdirs for the user config, sqlite3, json): look up the config file, query the
version rows, stat $LATEST's top directory and splice pre-rendered JSON.  Run it inside a
repository made by bench_startup.py to compare with the minimal click program."""

import click


@click.group()
def cli():
    pass


@cli.command()
def versions():
    import os
    import sqlite3

    import platformdirs

    p = platformdirs.user_config_dir("lambdaver", appauthor=False)
    os.path.exists(os.path.join(p, "config.toml"))
    db = sqlite3.connect(".lambdaver/meta.sqlite")
    rows = db.execute(
        "SELECT name, value, view FROM refs WHERE ns='versions' ORDER BY length(name), name"
    ).fetchall()
    out = [r[2] for r in rows]
    # scan $LATEST
    for de in os.scandir("."):
        de.stat(follow_symlinks=False)
    import sys

    sys.stdout.write('{\n    "Versions": [\n' + ",\n".join(out) + "\n    ]\n}\n")


cli()

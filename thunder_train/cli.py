"""``thunder-train``: corpus, training, evaluation and export from one command.

Each subcommand lives in its own module, exposing ``add_arguments(parser)`` and ``run(args) -> int``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> module implementing add_arguments(parser) and run(args)
SUBCOMMANDS: dict[str, str] = {
    "corpus": "thunder_train.corpus.cli",
    "head": "thunder_train.head.build",
    "train": "thunder_train.train_cli",
    "eval": "thunder_train.evaluation.cli",
    "export": "thunder_train.export_cli",
    "all": "thunder_train.pipeline",
    "session": "thunder_train.session",
    "devset": "thunder_train.devset.cli",
    "devset-eval": "thunder_train.devset.evaluate_cli",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="thunder-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    argv = sys.argv[1:] if argv is None else argv
    wanted = argv[0] if argv else None
    for name, modname in SUBCOMMANDS.items():
        p = sub.add_parser(name)
        if name == wanted:  # import only the module that runs
            mod = importlib.import_module(modname)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    args = parser.parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

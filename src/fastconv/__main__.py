"""Command line: ``python -m fastconv <command>``.

  bench     time the conv layer suite per algorithm (and torch when installed), see _bench.py
  config    print show_config()
"""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastconv", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    from fastconv import _bench
    _bench.add_arguments(sub.add_parser("bench", help="time the layer suite"))
    sub.add_parser("config", help="print the build and run-time configuration")
    args = parser.parse_args(argv)
    if args.command == "config":
        import fastconv
        fastconv.show_config()
        return 0
    if args.command in (None, "bench"):
        if args.command is None:
            args = parser.parse_args(["bench"])
        return _bench.run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m fastconv <command>``.

  train     train a small CNN on the 8x8 digits and report its held-out accuracy
  summary   print a model's layers, shapes, parameters, MACs and receptive field
  bench     time the layer suite per algorithm (and torch when installed), see _bench.py
  config    print show_config()
"""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastconv", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    from fastconv import _bench, _demo
    _demo.add_train_arguments(sub.add_parser("train", help="train the digits demo"))
    _demo.add_summary_arguments(sub.add_parser("summary", help="summarise a model"))
    _bench.add_arguments(sub.add_parser("bench", help="time the layer suite"))
    sub.add_parser("config", help="print the build and run-time configuration")
    args = parser.parse_args(argv)
    if args.command == "config":
        import fastconv
        fastconv.show_config()
        return 0
    if args.command == "train":
        return _demo.run_train(args)
    if args.command == "summary":
        return _demo.run_summary(args)
    if args.command in (None, "bench"):
        if args.command is None:
            args = parser.parse_args(["bench"])
        return _bench.run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())

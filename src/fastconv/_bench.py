"""Placeholder, replaced by the bench command."""


def add_arguments(parser):
    pass


def run(args):
    print("bench: not yet")
    return 0

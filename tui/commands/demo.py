"""`hearth demo`: the whole journey offline on the tiny base (what `make demo` runs)."""


def demo(args) -> int:
    from tui.demo import run_demo

    return run_demo()


def register(subparsers) -> None:
    subparsers.add_parser("demo", help="the whole journey offline on the embedded tiny base model").set_defaults(func=demo)

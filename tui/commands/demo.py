"""`hearth demo`: the whole journey on the real small base, or offline on the tiny one (what `make demo` runs)."""


def demo(args) -> int:
    from tui.demo import run_demo

    return run_demo(prefer="tiny" if args.tiny else "real")


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="the whole journey: train, evaluate, export, chat, a tarot reading")
    parser.add_argument("--tiny", action="store_true",
                        help="on the embedded tiny base (offline, a minute) instead of the real SmolLM2-135M")
    parser.set_defaults(func=demo)

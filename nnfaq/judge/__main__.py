"""``python -m nnfaq.judge exercise ...`` and ``python -m nnfaq.judge judge ...``: the two commands without the CLI."""

import sys

from nnfaq.judge.commands import exercise_main, judge_main

_USAGE = "usage: python -m nnfaq.judge {exercise,judge} ...  (e.g. exercise --list, judge softmax.py)"


def main(argv: list[str]) -> int:
    if argv and argv[0] == "exercise":
        return exercise_main(argv[1:])
    if argv and argv[0] == "judge":
        return judge_main(argv[1:])
    print(_USAGE, file=sys.stderr)
    return 0 if argv and argv[0] in ("-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Download the monitoring runner Lambda's numpy and pyarrow wheels for its platform, once.

    python -m scripts.lambda_wheels            # the Lambda target (make setup runs this)
    python -m scripts.lambda_wheels --python 3.13 --machine x86_64   # another target (tests, benchmarks)

pip fetches the versions requirements-image.txt pins for that Python as manylinux wheels for Amazon
Linux 2023 into build/lambda-wheels/<target>/; when they are there already nothing is fetched, so synth
stays offline after setup (stacks/constructs/runner_package.py).
"""

from __future__ import annotations

import argparse

from stacks.constructs.runner_package import LAMBDA_TARGET, Target, download_wheels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.lambda_wheels", description=__doc__.split("\n")[0])
    parser.add_argument("--python", default=LAMBDA_TARGET.python, help=f"default {LAMBDA_TARGET.python}")
    parser.add_argument("--machine", default=LAMBDA_TARGET.machine, choices=("aarch64", "x86_64"),
                        help=f"default {LAMBDA_TARGET.machine}")
    args = parser.parse_args(argv)
    for wheel in download_wheels(Target(python=args.python, machine=args.machine)):
        print(wheel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

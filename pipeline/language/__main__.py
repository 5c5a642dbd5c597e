"""``python -m pipeline.language build-ngrams``: build the n-gram store (see ``ngrams``)."""

import sys

from pipeline.language.ngrams import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["build-ngrams"]:
        args = ["build", *args[1:]]
    sys.exit(main(args))

"""`ai-proxy hash-key`: make a client key and the config entry that admits it.

    ai-proxy hash-key --name laptop           # a new random key, and its entry
    printf %s "$KEY" | ai-proxy hash-key --stdin --name ci   # the entry for a key you have

Only the SHA-256 goes into the config or the environment; the key itself is shown once.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import TextIO

import orjson

from .auth import MAX_KEY_LENGTH, hash_key, new_key

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_KEY_LENGTH = 20  # keys people pick by hand should still resist guessing


def main(argv: list[str], stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin = sys.stdin if stdin is None else stdin
    out = sys.stdout if stdout is None else stdout
    parser = argparse.ArgumentParser(
        prog="ai-proxy hash-key",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--name", default="client", help="the key's name in logs and metrics")
    parser.add_argument("--stdin", action="store_true", help="hash a key read from stdin")
    args = parser.parse_args(argv)
    if not NAME.match(args.name):
        print("ai-proxy hash-key: --name takes 1-64 of A-Z a-z 0-9 _ . -", file=sys.stderr)
        return 2
    if args.stdin:
        key = stdin.read().strip()
        if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
            print(
                f"ai-proxy hash-key: a key must be {MIN_KEY_LENGTH}-{MAX_KEY_LENGTH} characters; "
                "run without --stdin to generate one",
                file=sys.stderr,
            )
            return 2
    else:
        key = new_key()
        print(f"# New key for {args.name!r}, shown only now: give it to the client", file=out)
        print(f"# (as ANTHROPIC_API_KEY, or the x-api-key header).\n{key}\n", file=out)
    digest = hash_key(key)
    env = orjson.dumps([{"name": args.name, "sha256": digest}]).decode()
    print("# In the config file:", file=out)
    print(f'[[auth.client_keys]]\nname = "{args.name}"\nsha256 = "{digest}"\n', file=out)
    print("# Or in the environment (a JSON list of every key):", file=out)
    print(f"AI_PROXY_AUTH__CLIENT_KEYS='{env}'", file=out)
    return 0

"""moto's AWS server for the Lambda cold start: `python bench/secrets_server.py PORT`.

Secrets Manager on 127.0.0.1 so the Lambda handler reads its keys over HTTP as in AWS, and
boto3's import and first call are part of the measured cold start. moto's server imports
flask_cors even when CORS is disabled; when that package (extra `moto[server]`) is missing, a
stand-in module is put on the path, since CORS headers play no part here.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

# bench/ holds modules named like common packages (client, report, ...): keep them out of the
# way of what this process imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]


def main() -> None:
    port = int(sys.argv[1])
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "1"
    try:
        import flask_cors  # noqa: F401
    except ImportError:
        shim = Path(tempfile.mkdtemp(prefix="bench-shim-"))
        (shim / "flask_cors.py").write_text("def CORS(*args, **kwargs):\n    return None\n")
        sys.path.insert(0, str(shim))
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

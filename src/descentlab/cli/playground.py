"""``descentlab playground``: serve the live playground page and open it in a browser.

Examples::

    descentlab playground                      # http://127.0.0.1:8765, opens the browser
    descentlab playground --port 9000 --no-browser
    descentlab playground --host 0.0.0.0       # reachable from other machines: say so explicitly

The server listens on loopback only unless ``--host`` says otherwise; on loopback it also
accepts only loopback ``Host`` headers (against DNS rebinding). Stop it with Ctrl-C.
The options are checked before the server starts: ``--port`` in 1..65535, ``--max-concurrent``
in 1..:data:`MAX_CONCURRENT`, and a ``--host`` that cannot be resolved or listened on is a
one-line error.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import threading
import time
import webbrowser
from typing import Any

from descentlab._validation import Interval
from descentlab.cli.options import add_command, check_option, whole_number

__all__ = ["MAX_CONCURRENT", "add_parser", "run"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_CONCURRENT = 64
"""The most trainings one server runs at once (each is a worker thread and a population)."""
PORT = Interval(1, 65535, integer=True)


SUMMARY = "a local web page: train with several optimizers and watch them live"

DESCRIPTION = (
    "Serve the descentlab playground: pick a data set, a network and up to four "
    "optimizers, press Train, and watch each optimizer's cost curve and decision "
    "boundary update live."
)

EPILOG = "examples:\n  descentlab playground\n  descentlab playground --port 9000 --no-browser\n"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``playground`` with ``--host``, ``--port``, ``--no-browser``, ``--max-concurrent``."""
    parser = add_command(subparsers, "playground", SUMMARY, DESCRIPTION, EPILOG, run)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    parser.add_argument("--port", type=whole_number, default=8765, help="port (default: 8765)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    parser.add_argument(
        "--max-concurrent",
        type=whole_number,
        default=2,
        help=f"trainings that may run at the same time, at most {MAX_CONCURRENT} (default: 2)",
    )
    return parser


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (``127.0.0.0/8``, ``::1``).

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_port_free(host: str, port: int) -> None:
    """Raise ``OSError`` with a readable message if ``host:port`` cannot be listened on."""
    shown = repr(host if len(host) <= 60 else host[:57] + "...")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise OSError(f"cannot listen on {shown}: {exc.strerror}") from None
    except (UnicodeError, ValueError):  # a name IDNA cannot encode, a NUL character
        raise OSError(f"cannot listen on {shown}: not a host name or address") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise OSError(
                f"cannot listen on {host}:{port} ({exc.strerror}); is a playground already "
                "running there? Choose another --port."
            ) from None


def run(args: argparse.Namespace) -> int:
    """Start uvicorn with :func:`~descentlab.playground.create_app`; open the page unless asked not to."""
    import uvicorn

    from descentlab.playground import create_app

    check_option("--port", args.port, PORT)
    check_option("--max-concurrent", args.max_concurrent, Interval(1, MAX_CONCURRENT, integer=True))
    check_port_free(args.host, args.port)
    loopback = is_loopback(args.host)
    app = create_app(
        max_concurrent=args.max_concurrent,
        allowed_hosts=[*LOOPBACK_NAMES, args.host] if loopback else None,
    )
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    url = f"http://{shown}:{args.port}/"
    print(f"descentlab playground: {url}  (Ctrl-C to stop)", flush=True)
    if not loopback:
        print(
            f"warning: listening on {args.host}, so other machines can reach the playground.",
            flush=True,
        )
    # log_config=None: uvicorn's own logging set-up goes through logging.config.dictConfig,
    # which closes every handler already in the process (a notebook's, a test runner's); its
    # warnings still reach stderr through logging's last-resort handler
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        log_config=None,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    if not args.no_browser:
        threading.Thread(target=open_when_started, args=(server, url), daemon=True).start()
    server.run()
    return 0


def open_when_started(server: Any, url: str, *, timeout: float = 10.0) -> bool:
    """Open ``url`` in a browser once ``server.started`` (checked every 0.1 s); give up after
    ``timeout`` seconds (a server that failed to start). True if the page was opened."""
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    webbrowser.open(url)
    return True

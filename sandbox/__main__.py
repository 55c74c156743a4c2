"""``python -m sandbox``: run the emulators standalone until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from sandbox.server import SandboxHandle, start_sandbox


def _banner(handle: SandboxHandle) -> str:
    url = handle.http_url
    netloc = url.split("://", 1)[1]
    return "\n".join(
        [
            "cshub sandbox is running",
            f"  inbox    {url}/",
            f"  HubSpot  HubSpot(access_token='any', host='{url}')",
            f"  Zendesk  ZENPY_FORCE_NETLOC={netloc} ZENPY_FORCE_SCHEME=http",
            f"  Slack    WebClient(token='any', base_url='{url}/api/')",
            f"  SMTP     {handle.smtp_host}:{handle.smtp_port}",
            "Ctrl-C to stop.",
        ]
    )


async def _run(args: argparse.Namespace) -> None:
    handle = await start_sandbox(
        args.host, args.http_port, args.smtp_port, args.data, state_file=args.state
    )
    print(_banner(handle), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await handle.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--data", type=Path, default=None, help="demo data YAML file")
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="keep the state (CRM, tickets, Slack, outbox) in this file across restarts",
    )
    parser.add_argument("--verbose", action="store_true", help="log every API request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    if not args.verbose:  # aiosmtpd narrates every SMTP connection at INFO
        logging.getLogger("mail.log").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()

"""`python -m sora_nb.emulator`: run the emulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys
import threading

from .config import FAMILIES
from .progress import PROFILES
from .server import serve


def _rate_limit(text: str) -> tuple[float, int]:
    rate, sep, burst = text.partition(",")
    try:
        return float(rate), int(burst) if sep else max(1, int(float(rate)))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected RATE[,BURST], got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sora_nb.emulator",
        description="Local stand-in for OpenAI-compatible video gateways (all sora_nb dialects).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8000, help="gateway port (0: any free port)")
    parser.add_argument(
        "--cdn-port", type=int, default=0, help="port of the CDN origin (0: any free port)"
    )
    parser.add_argument("--job-seconds", type=float, default=2.0, help="render time of one job")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs rendering at once")
    parser.add_argument("--seed", type=int, default=None, help="deterministic ids and content")
    parser.add_argument(
        "--api-key-env",
        metavar="NAME",
        default=None,
        help="accept only the bearer key held in this environment variable",
    )
    parser.add_argument("--render-scale", type=float, default=0.25)
    parser.add_argument("--poll-hint-ms", type=int, default=None)
    parser.add_argument("--video-padding", type=int, default=0, metavar="BYTES")
    parser.add_argument(
        "--content-redirect",
        action="store_true",
        help="/v1/videos/{id}/content answers 302 to the CDN origin",
    )
    parser.add_argument("--unified-answer", choices=("task", "chat"), default="task")
    parser.add_argument("--unified-variant", choices=("default", "alt"), default="default")
    parser.add_argument("--chat-template", choices=("zh", "en"), default="zh")
    parser.add_argument(
        "--progress-profile", choices=PROFILES, default="linear", help="how progress moves"
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate_limit,
        metavar="RATE[,BURST]",
        default=None,
        help="per-key limit: RATE requests/s, bursts of BURST (default: RATE); beyond it 429",
    )
    parser.add_argument(
        "--no-retry-after",
        action="store_true",
        help="send rate-limit 429s without a Retry-After header",
    )
    parser.add_argument(
        "--rate-limit-headers",
        action="store_true",
        help="send OpenAI's x-ratelimit-*-requests headers on every answer to a limited key",
    )
    parser.add_argument(
        "--families",
        default=",".join(FAMILIES),
        metavar="A,B,…",
        help=f"route families to serve (others answer 404 Invalid URL): {','.join(FAMILIES)}",
    )
    parser.add_argument(
        "--videos-flavor",
        choices=("openai", "newapi"),
        default="openai",
        help="GET /v1/videos/{id} as OpenAI answers it, or as new-api does for its platforms",
    )
    parser.add_argument(
        "--chat-flavor",
        choices=("default", "sora2api"),
        default="default",
        help="video chat streams in the relays' own wording, or as the sora2api bridge does",
    )
    parser.add_argument(
        "--newapi-legacy-link",
        action="store_true",
        help="new-api task polls also carry a finished video's link in fail_reason (old versions)",
    )
    args = parser.parse_args(argv)

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            parser.error(f"environment variable {args.api_key_env} is not set or empty")
    try:
        emu = serve(
            job_seconds=args.job_seconds,
            concurrency=args.concurrency,
            seed=args.seed,
            api_key=api_key,
            render_scale=args.render_scale,
            poll_hint_ms=args.poll_hint_ms,
            video_padding=args.video_padding,
            host=args.host,
            port=args.port,
            cdn_port=args.cdn_port,
            content_redirect=args.content_redirect,
            unified_answer=args.unified_answer,
            unified_variant=args.unified_variant,
            chat_template=args.chat_template,
            progress_profile=args.progress_profile,
            rate_limit=args.rate_limit,
            rate_limit_retry_after=not args.no_retry_after,
            rate_limit_headers=args.rate_limit_headers,
            families=args.families,
            videos_flavor=args.videos_flavor,
            chat_flavor=args.chat_flavor,
            newapi_legacy_link=args.newapi_legacy_link,
        )
    except (OSError, ValueError) as exc:
        print(f"sora_nb emulator: cannot start: {exc}", file=sys.stderr)
        return 1
    try:  # from here on, Ctrl-C at any moment (even before the first line is out) stops it
        print(emu.base_url, flush=True)
        print(
            f"sora_nb emulator: gateway {emu.base_url}  cdn {emu.cdn_url}  (Ctrl-C stops)",
            file=sys.stderr,
            flush=True,
        )
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            # It accepts any key unless --api-key-env is set, and serves every file it rendered.
            print(
                f"sora_nb emulator: listening on {args.host}, reachable from other machines"
                + ("" if api_key else ", and with no key required"),
                file=sys.stderr,
                flush=True,
            )
        threading.Event().wait()  # woken by KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

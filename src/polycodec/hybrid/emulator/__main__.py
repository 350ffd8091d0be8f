"""`python -m polycodec.hybrid.emulator ...`: the emulator's command line."""
from __future__ import annotations

import argparse
import sys

from . import processes, services
from .server import DEFAULT_MAX_BODY, Emulator


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m polycodec.hybrid.emulator",
                                description="Local Hybrid Runner emulator. Uploaded service code "
                                "runs UNSANDBOXED: keep it on 127.0.0.1.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    p.add_argument("--token", help="require this bearer token")
    p.add_argument("--api-key", help="require this x-synthetic-key")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added per execute")
    p.add_argument("--rate-429", type=float, default=0.0)
    p.add_argument("--rate-500", type=float, default=0.0)
    p.add_argument("--rate-drop", type=float, default=0.0, help="close without answering")
    p.add_argument("--rate-slow", type=float, default=0.0, help="trickle the response")
    p.add_argument("--slow-seconds", type=float, default=1.0)
    p.add_argument("--retry-after", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--max-records", type=int, default=None)
    p.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY)
    p.add_argument("--record", type=int, default=0, help="keep the last N requests")
    p.add_argument("--preload", action="append", default=[], metavar="TENANT=ZIP",
                   help="upload a package at start")
    p.add_argument("--demo", metavar="TENANT", help="preload the 10-input numeric demo service "
                   "(bench/score) for TENANT")
    p.add_argument("--workers", type=int, default=1, help="worker processes answering on the "
                   "port (uploads, faults, stats and recordings shared; POSIX only)")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be >= 1")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("WARNING: binding a non-loopback address; uploaded service code runs unsandboxed",
              file=sys.stderr)
    kwargs = dict(token=args.token, api_key=args.api_key, record=args.record,
                  max_body=args.max_body, max_records=args.max_records,
                  faults=dict(latency=args.latency, rate_429=args.rate_429,
                              rate_500=args.rate_500, rate_drop=args.rate_drop,
                              rate_slow=args.rate_slow, slow_seconds=args.slow_seconds,
                              retry_after=args.retry_after, seed=args.seed))
    if args.workers > 1:
        packages = []
        for item in args.preload:
            tenant, _, path = item.partition("=")
            with open(path, "rb") as f:
                packages.append((tenant, f.read()))
        if args.demo:
            packages.append((args.demo, services.make_zip(services.numeric_definition())))
        return processes.run(args.workers, args.host, args.port, kwargs, packages)
    emu = Emulator(args.host, args.port, **kwargs)
    for item in args.preload:
        tenant, _, path = item.partition("=")
        with open(path, "rb") as f:
            svc = emu.upload_zip(tenant, f.read())
        print(f"loaded {tenant}/{svc.folder}/{svc.service}[{svc.version}] "
              f"version_id={svc.version_id}", flush=True)
    if args.demo:
        svc = emu.registry.add(services.from_definition(services.numeric_definition(), args.demo))
        print(f"loaded {args.demo}/{svc.folder}/{svc.service}[{svc.version}] "
              f"version_id={svc.version_id}", flush=True)
    print(f"polycodec hybrid emulator listening on {emu.url}", flush=True)
    try:
        emu.httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        emu.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

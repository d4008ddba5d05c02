"""Activity-findings benchmark: rightsizer.watch over the synthetic tree of bench/usage.py.

    python bench/watch.py [--scale 28] [--runs 3] [--fresh]

Reuses (or writes) the tree and database bench/usage.py makes, then times `watch` (every
queries/watch_*.sql and the checks) for the Lambda roles of the window, beside compute_usage on
the same read-only connection, so the two can be compared on a machine under the same load.
"""

from __future__ import annotations

import argparse
import statistics
import time

from usage import WINDOW, _prepare  # the same tree and store as the usage benchmark

from rightsizer.analyze import load_snapshot
from rightsizer.model import RoleAnalysis
from rightsizer.store import connect
from rightsizer.usage import compute_usage
from rightsizer.watch import watch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=28, help="synth scale (28 ≈ 510k records)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="regenerate the tree and database")
    args = parser.parse_args()

    db = _prepare(args.scale, args.fresh)
    root = db.parent
    snapshot = load_snapshot(str(root / "iam-details.json"), str(root / "lambda-functions.json"))
    conn = connect(db, read_only=True)
    (events,) = conn.execute("SELECT count(*) FROM events").fetchone() or (0,)
    usage_seconds: list[float] = []
    watch_seconds: list[float] = []
    for _ in range(args.runs):
        began = time.perf_counter()
        report = compute_usage(conn, WINDOW, with_calls=False)
        usage_seconds.append(time.perf_counter() - began)
        roles = [_role(usage.role_arn, usage.role_name) for usage in report.roles.values()]
        began = time.perf_counter()
        findings, basis = watch(conn, WINDOW, snapshot, roles)
        watch_seconds.append(time.perf_counter() - began)
    conn.close()
    print(f"events in the store: {events:,}; Lambda roles: {len(report.roles)}")
    print(f"findings: {len(findings)} ({', '.join(sorted({f.code for f in findings}))})")
    print(f"history judged: {basis.first_seen_judged} ({basis.history_days} days)")
    for label, seconds in (("compute_usage", usage_seconds), ("watch", watch_seconds)):
        print(
            f"{label}: best {min(seconds):.2f}s, median {statistics.median(seconds):.2f}s "
            f"over {args.runs} runs"
        )


def _role(role_arn: str, role_name: str) -> RoleAnalysis:
    """A role with nothing but its name: `watch` reads only names and denied rows of roles."""
    from rightsizer.model import PolicyDiff

    return RoleAnalysis(
        role_arn=role_arn, role_name=role_name, account="", functions=(),
        lambda_role_source="snapshot", denied=(), kms_keys=(), activity=(), used=(), unknown=(),
        not_granted_by_identity_policy=(), current_policies=(), missing_policies=(),
        permissions_boundary=None, current_policy=None, recommended_policy=None,
        recommended_policy_size=None,
        changed=None, diff=PolicyDiff((), (), (), ""), counts=None, out_of_scope=(),
        precision_given_up=(), replay=None, warnings=(),
    )  # fmt: skip


if __name__ == "__main__":
    main()

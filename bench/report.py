"""bench/run's figures and how they are printed: a `Figure` per row (nearest-rank percentiles,
its goal, met or not), the line printed as each row is measured and the table printed at the end
(read as bench/README.md "Reading the table" says); `sample_figure` makes the row of a load
phase (bench/loadgen.py's Sample) with the server CPU per request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import loadgen


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


@dataclass
class Figure:
    name: str
    unit: str
    values: list[float]
    goal: str
    met: bool | None
    value: float | None = None
    value_unit: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "unit": self.unit,
            "n": len(self.values),
            "p50": _round(pct(self.values, 50)),
            "p95": _round(pct(self.values, 95)),
            "p99": _round(pct(self.values, 99)),
            "max": _round(max(self.values, default=float("nan"))),
            "goal": self.goal,
            "met": self.met,
        }
        if self.value is not None:
            out["value"] = _round(self.value)
            out["value_unit"] = self.value_unit
        out.update(self.extra)
        return out


def _round(v: float) -> float | None:
    if v != v:  # NaN
        return None
    return round(v, 4 if abs(v) < 1 else 2 if abs(v) < 100 else 1)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1 else f"{v:.1f}"
    return str(v)


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ("figure", "unit", "n", "p50", "p95", "p99", "max", "value", "goal", "met?")
    table = [head]
    for r in rows:
        value = f"{_fmt(r.get('value'))} {r.get('value_unit') or ''}".strip()
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        table.append(
            (
                r["name"],
                r["unit"],
                str(r["n"]),
                *(_fmt(r[k]) for k in ("p50", "p95", "p99", "max")),
                value,
                r["goal"],
                met,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for i, row in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows:
        if r.get("note"):
            print(f"- {r['name']}: {r['note']}")


def progress_line(row: dict[str, Any]) -> str:
    """The line printed as soon as a row is measured (the table comes at the end)."""
    return (
        f"  {row['name']}: p50={_fmt(row['p50'])} p99={_fmt(row['p99'])} "
        f"max={_fmt(row['max'])} {row['unit']}"
        + (f", {_fmt(row.get('value'))} {row.get('value_unit')}" if "value" in row else "")
        + f" (goal {row['goal']}: {row['met']})"
    )


def sample_figure(
    name: str,
    sample: loadgen.Sample,
    goal: str,
    met: bool,
    *,
    cpu: dict[str, float] | None = None,
    throughput: bool = False,
) -> Figure:
    """The row of a load phase; with `cpu` (seconds by process) the server CPU per request;
    `throughput`: its value is the requests per second."""
    done = len(sample.latencies_ms)
    extra: dict[str, Any] = {"errors": sample.errors}
    notes = []
    if sample.errors:
        notes.append(f"errors {sample.errors}, first: {sample.first_error}")
    if cpu:
        per = {k: round(v * 1000 / max(done, 1), 2) for k, v in cpu.items()}
        extra["cpu_ms_per_request"] = per
        notes.append(f"server CPU per request {per} ms")
    rate = done / sample.wall_seconds if sample.wall_seconds else 0.0
    if not throughput:
        notes.append(f"{rate:.0f} req/s achieved")
    if notes:
        extra["note"] = "; ".join(notes)
    return Figure(
        name,
        "ms",
        sample.latencies_ms,
        goal,
        met and not sample.errors,
        value=rate if throughput else None,
        value_unit="req/s" if throughput else None,
        extra=extra,
    )

"""Template rendering benchmark: a 2,200-character caption template with 50 variables.

    .venv/bin/python bench/render_bench.py [--renders 20000]

Times `instasched.templates.render.render` one call at a time (time.perf_counter_ns around each
call) and prints p50 / p99 / max in microseconds, plus `variables_in` and the full preview
(`render_template`: render + suggestions + hashtag/mention scan) for comparison.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

from benchlib import percentile

from instasched.models import PostTemplate
from instasched.templates.render import render, variables_in
from instasched.templates.service import render_template


def build_template(length: int = 2200, variables: int = 50) -> tuple[str, dict[str, str]]:
    names = [f"var_{i:02d}" for i in range(variables)]
    pieces = [f"Line {i} 🎉 {{{{ {name} }}}} #tag{i % 5} " for i, name in enumerate(names)]
    text = "".join(pieces)
    filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. "
    while len(text) < length:
        text += filler
    template = text[:length]
    assert variables_in(template) == names, "the filler cut a placeholder"
    values = {name: f"value {i} with $1 and {{{{x}}}}" for i, name in enumerate(names)}
    return template, values


def measure(name: str, fn: Callable[[], object], runs: int) -> None:
    for _ in range(min(1000, runs)):  # warm up
        fn()
    gc.collect()
    samples: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(runs):
        start = clock()
        fn()
        samples.append((clock() - start) / 1000)
    print(
        f"{name}: n={runs} p50={percentile(samples, 50):.1f} us "
        f"p99={percentile(samples, 99):.1f} us max={max(samples):.1f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=int, default=20_000)
    args = parser.parse_args()

    template, values = build_template()
    result = render(template, values)
    assert not result.missing and len(result.used) == 50
    print(f"template: {len(template)} characters, {len(values)} variables")

    model = PostTemplate(
        caption_template=template,
        suggested_hashtags=["launch", "sale"],
        suggested_mentions=["brand"],
    )
    measure("render", lambda: render(template, values), args.renders)
    measure("variables_in", lambda: variables_in(template), args.renders)
    measure("render_template (preview)", lambda: render_template(model, values), args.renders)


if __name__ == "__main__":
    main()

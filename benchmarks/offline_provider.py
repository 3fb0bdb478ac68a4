"""How long the offline provider takes to write an article, per word count. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/offline_provider.py [--runs 20]

The offline provider is the default of the demo and the tests, so its cost per draft bounds both; no broker or
database is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.providers.offline import OfflineProvider  # noqa: E402
from streams.payloads import Brief  # noqa: E402

BRIEF = Brief(title="Kubernetes Autoscaling for Small Teams", keywords=["kubernetes autoscaling", "cluster costs"],
              word_count=1500)


async def main(runs: int) -> None:
    provider = OfflineProvider()
    print(f"{'words':>6}  {'research ms':>11}  {'outline ms':>10}  {'draft ms p50':>12}  {'draft ms max':>12}")
    for words in (500, 1500, 3000):
        brief = BRIEF.model_copy(update={"word_count": words})
        t0 = time.perf_counter()
        research = await provider.research(brief)
        t1 = time.perf_counter()
        outline = await provider.outline(brief, research)
        t2 = time.perf_counter()
        drafts = []
        for _ in range(runs):
            start = time.perf_counter()
            await provider.draft(brief, research, outline)
            drafts.append((time.perf_counter() - start) * 1000)
        print(f"{words:>6}  {(t1 - t0) * 1000:>11.1f}  {(t2 - t1) * 1000:>10.1f}  "
              f"{statistics.median(drafts):>12.1f}  {max(drafts):>12.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="drafts per word count (default 20)")
    asyncio.run(main(parser.parse_args().runs))

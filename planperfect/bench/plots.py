"""The PNG plots of `bench all`: throughput by worker processes, and the latency CDFs (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server
    import matplotlib.pyplot as plt

    return plt


def scale_plot(path: Path, series: dict[str, tuple[list[float], list[float]]]) -> None:
    """`series`: label -> (worker processes, jobs/s)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for label, (workers, rates) in series.items():
        ax.plot(workers, rates, marker="o", label=label)
    ax.set_xlabel("worker processes")
    ax.set_ylabel("jobs/s")
    ax.set_xticks(sorted({w for ws, _ in series.values() for w in ws}))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Throughput by worker processes")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def latency_cdf_plot(path: Path, series: dict[str, list[float]]) -> None:
    """`series`: label -> latencies in ms."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for label, values in series.items():
        if not values:
            continue
        ordered = sorted(max(v, 0.1) for v in values)  # a 0 ms hop (same clock tick) still shows on a log axis
        ax.step(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of jobs / hops")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left")
    ax.set_title("Latency at half the maximum rate (0 ms provider)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

"""`planperfect demo` without a terminal: plain output, files named by sample, and child logs free of escape codes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from planperfect.demo import output_stem
from tests.support import env_of, free_port

ESC = "\x1b"


async def _demo(env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """`planperfect demo --jobs 3` with stdout and stderr piped; Ctrl-C (its children stop with it) past `timeout`."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "planperfect.cli", "demo", "--jobs", "3", env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        raise AssertionError(f"the demo did not end within {timeout}s:\n{out.decode()}\n{err.decode()}") from None
    return proc.returncode, out.decode(), err.decode()


async def test_demo_without_a_terminal(infra, database, prefix, tmp_path):
    out_dir, data = tmp_path / "out", tmp_path / "data"
    out_dir.mkdir()
    stale = out_dir / f"{output_stem(0)}.md"
    stale.write_text("left by an earlier run")
    env = {**env_of(infra, database, prefix), "PLANPERFECT_DATA_DIR": str(data), "PLANPERFECT_OUTPUT_DIR": str(out_dir),
           "PLANPERFECT_API_PORT": str(free_port())}

    code, out, err = await _demo(env, timeout=200)
    logs = {role: (data / "logs" / f"{role}.log").read_text(errors="replace") for role in ("api", "projector")}
    assert code == 0, f"{out}\n{err}\n" + "\n".join(f"--- {r}\n{t[-3000:]}" for r, t in logs.items())

    assert ESC not in out and ESC not in err, "escape codes in the demo's output to a pipe"
    assert f"an admin key was created in {data / 'admin-api-key'}" in out, out
    assert f"an operator key was created in {data / 'operator-api-key'}" in out, out  # the key the demo sent
    summary = out[out.index("summary"):]
    rows = [line for line in summary.splitlines() if "Acme Widgets Returns FAQ" in line]
    assert len(rows) == 1 and "schema" in rows[0] and "valid FAQPage" in rows[0], out  # one unwrapped row per job
    expected = {f"{output_stem(i)}{suffix}" for i in (0, 1) for suffix in (".md", ".html", ".jsonld")}
    expected.add(f"{output_stem(2)}.jsonld")
    assert {p.name for p in out_dir.iterdir()} == expected  # nothing named by a job id beside them
    assert stale.read_text() != "left by an earlier run"  # the same sample's file was replaced

    assert "projector started" in logs["projector"], logs["projector"]
    for role, text in logs.items():  # started as `planperfect run` starts its children: output to a file
        assert ESC not in text, f"escape codes in {role}.log: {text[text.index(ESC) - 40:][:120]!r}"

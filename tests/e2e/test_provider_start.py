"""`planperfect worker` with a model provider it cannot use: one line naming the setting, and an exit, not a loop."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.fakes.wiring import SECRET
from tests.support import free_port


async def start_worker(data_dir: str, **env: str) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.endswith("_BASE_URL")}
    # Kafka and PostgreSQL at closed ports: the provider check must come first, before any connection.
    clean.update(PLANPERFECT_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
                 PLANPERFECT_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/none",
                 PLANPERFECT_DATA_DIR=data_dir, **env)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "planperfect.cli", "worker", env=clean,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, (out + err).decode()


@pytest.mark.parametrize("env, names", [
    ({"PLANPERFECT_PROVIDER": "anthropic"}, "ANTHROPIC_API_KEY"),
    ({"PLANPERFECT_PROVIDER": "openai", "OPENAI_API_KEY": SECRET,
      "OPENAI_BASE_URL": "http://127.0.0.1:{port}/v1"}, "OPENAI_BASE_URL"),
    ({"PLANPERFECT_PROVIDER": "mistral"}, "PLANPERFECT_PROVIDER="),
])
async def test_a_worker_that_cannot_reach_its_model_says_which_setting_to_fix(env: dict[str, str], names: str,
                                                                              tmp_path: Path) -> None:
    code, output = await start_worker(str(tmp_path), **{k: v.format(port=free_port()) for k, v in env.items()})
    assert code == 78  # EX_CONFIG: not worth a restart
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("planperfect worker: ") and names in lines[0], output
    assert SECRET not in output

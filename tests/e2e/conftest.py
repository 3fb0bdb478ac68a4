"""A running system for end-to-end tests: real worker, projector and API processes on the session's stack."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
import pytest

from tests.support import Child, eventually, free_port, start_child


@dataclass
class System:
    base_url: str
    env: dict[str, str]
    log_dir: object
    children: dict[str, Child] = field(default_factory=dict)

    def start(self, role: str) -> Child:
        child = start_child(role, self.env, self.log_dir)
        self.children[role] = child
        return child

    def logs(self) -> str:
        return "\n".join(f"--- {role}\n{c.output()}" for role, c in self.children.items())


@pytest.fixture
async def system(infra, database, prefix, tmp_path):
    port = free_port()
    env = {
        "PLANPERFECT_KAFKA_BOOTSTRAP": infra.bootstrap,
        "PLANPERFECT_DATABASE_URL": database,
        "PLANPERFECT_TOPIC_PREFIX": prefix,
        "PLANPERFECT_DATA_DIR": str(tmp_path / "data"),
        "PLANPERFECT_API_PORT": str(port),
    }
    sys_ = System(f"http://127.0.0.1:{port}", env, tmp_path / "logs")
    for role in ("worker", "projector", "api"):
        sys_.start(role)
    try:
        async with aiohttp.ClientSession() as http:

            async def ready():
                for role, child in sys_.children.items():
                    if child.proc.poll() is not None:
                        raise AssertionError(f"{role} exited early:\n{child.output()}")
                try:
                    async with http.get(f"{sys_.base_url}/readyz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(ready, timeout=60, what="API ready")
        yield sys_
    finally:
        for child in sys_.children.values():
            child.stop()

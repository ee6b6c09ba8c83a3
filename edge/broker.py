"""A broker for the demo: Mosquitto when it is installed, else amqtt inside this process.

amqtt (pure Python, ~3k msg/s at QoS 1, DESIGN §7) is plenty for a demo site; production
and the scale tests use Mosquitto or a clustered broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

log = logging.getLogger(__name__)

# DESIGN §7: the default queue of 1000 silently dropped most of a burst; Nagle costs 40 ms.
MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
set_tcp_nodelay true
max_queued_messages 100000
max_inflight_messages 100
log_dest stderr
log_type error
log_type warning
"""


def _write_conf(workdir: Path, port: int) -> str:
    conf = workdir / "mosquitto.conf"
    conf.write_text(MOSQUITTO_CONF.format(port=port))
    return str(conf)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return


@contextlib.asynccontextmanager
async def embedded_broker(port: int, workdir: Path, kind: str = "auto") -> AsyncIterator[str]:
    """Run a broker on 127.0.0.1:`port` for the duration; yields which one it is."""
    mosquitto = shutil.which("mosquitto", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if kind == "mosquitto" or (kind == "auto" and mosquitto):
        if mosquitto is None:
            raise RuntimeError("mosquitto is not installed")
        proc = await asyncio.create_subprocess_exec(
            mosquitto,
            "-c",
            _write_conf(workdir, port),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal must not stop the broker before the
            # processes that are still saying goodbye through it; we stop it last.
            start_new_session=True,
        )
        try:
            await wait_for_port(port)
            yield "mosquitto"
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout=5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        return
    from amqtt.broker import Broker

    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    try:
        yield "amqtt (embedded)"
    finally:
        await broker.shutdown()

"""Real-browser tests: the app served by uvicorn on loopback, opened in headless Chromium.

`serve` runs the ASGI app on a socket bound to a free loopback port, in a background thread, and
stops it through ``should_exit``; every wait is bounded. `chromium` returns the browser or skips
the test with the reason (``make browser`` installs Debian's package); `capture` runs it once
for a screenshot and once for the DOM as rendered. `png_pixels` decodes the screenshot with the
standard library, so a test can look at colours, not just at a file's size.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

BROWSERS = ("chromium", "chromium-browser")

#: Flags for a quiet, self-contained headless run: no first-run UI, no background traffic to
#: Google's services, no proxy (loopback only), no sandbox (CI runs as root).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-breakpad",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def chromium() -> str:
    """The path of Chromium, or skip the calling test saying how to get it."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium is not installed: run `make browser` (Debian's chromium)")


@contextmanager
def serve(app: object, *, start_timeout: float = 15.0) -> Iterator[str]:
    """Serve ``app`` on ``http://127.0.0.1:<free port>`` while the block runs.

    The socket is bound here and handed to uvicorn, so no other process can take the port
    between choosing and listening.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn stopped before it started serving")
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn did not start within {start_timeout} s")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@dataclass(frozen=True)
class Capture:
    screenshot: Path
    dom: str


def capture(
    url: str, out_dir: Path, *, name: str = "page", size: tuple[int, int] = (412, 915)
) -> Capture:
    """A screenshot (a phone-sized window by default) and the rendered DOM of ``url``."""
    browser = chromium()
    png = out_dir / f"{name}.png"
    window = f"--window-size={size[0]},{size[1]}"
    _run([browser, window, f"--screenshot={png}", url])
    if not png.is_file():
        raise AssertionError(f"Chromium wrote no screenshot of {url}")
    dom = _run([browser, window, "--dump-dom", url])
    return Capture(screenshot=png, dom=dom)


def _run(command: list[str], *, timeout: float = 60.0) -> str:
    """One Chromium run with its own profile; the whole process group is killed on timeout."""
    with tempfile.TemporaryDirectory(prefix="onceonly-chromium-") as profile:
        args = [command[0], *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *command[1:]]
        process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=profile,
            start_new_session=True,
            env={**os.environ, "HOME": profile},
        )
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise TimeoutError(f"Chromium did not finish within {timeout} s") from None
        finally:
            # renderer and helper processes of this run, if any outlived the browser
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    if process.returncode != 0:
        raise RuntimeError(
            f"Chromium exited with {process.returncode}: {err.decode(errors='replace')[-2000:]}"
        )
    return out.decode()


# -- reading a PNG -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pixels:
    width: int
    height: int
    rgb: list[bytes]  # one row of RGB triplets per line

    def counts(self) -> Counter[tuple[int, int, int]]:
        """How many pixels have each colour."""
        counted: Counter[tuple[int, int, int]] = Counter()
        for row in self.rgb:
            counted.update(zip(row[0::3], row[1::3], row[2::3], strict=True))
        return counted


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk (after the 8-byte signature)."""
    header = path.read_bytes()[:24]
    if header[:8] != b"\x89PNG\r\n\x1a\n" or header[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", header[16:24])


def png_pixels(path: Path) -> Pixels:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes) to RGB rows."""
    data = path.read_bytes()
    width, height = png_size(path)
    depth, colour, _, _, interlace = data[24:29]
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
    channels = 3 if colour == 2 else 4
    idat, offset = bytearray(), 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            idat += data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels
        )
        rows.append(bytes(line) if channels == 3 else bytes(_drop_alpha(line)))
        previous = line
    return Pixels(width, height, rows)


def _unfilter(kind: int, line: bytearray, up: bytearray, bpp: int) -> bytearray:
    """Undo one scanline's filter (PNG spec §9.2)."""
    if kind == 0:
        return line
    if kind == 2:
        return bytearray((a + b) & 0xFF for a, b in zip(line, up, strict=True))
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + up[i]) >> 1)) & 0xFF
        elif kind == 4:
            corner = up[i - bpp] if i >= bpp else 0
            p = left + up[i] - corner
            pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - corner)
            best = left if pa <= pb and pa <= pc else up[i] if pb <= pc else corner
            line[i] = (line[i] + best) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter {kind}")
    return line


def _drop_alpha(line: bytearray) -> bytearray:
    out = bytearray(len(line) // 4 * 3)
    out[0::3], out[1::3], out[2::3] = line[0::4], line[1::4], line[2::4]
    return out

"""The demo through the command line: it runs with no network, and SIGTERM/SIGINT stop it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys

import orjson
import pytest


def _start(cli_env, tmp_path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gme_tui", *args],
        cwd=tmp_path,
        env=cli_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_headless_demo_streams_json_and_stops_cleanly_on_signal(tmp_path, cli_env, signum):
    process = _start(cli_env, tmp_path, "--demo", "--headless", "--json", "--speed", "30", "--seed", "3")
    try:
        seen = set()
        for line in process.stdout:  # bounded: the demo reports a scan within its first data minute
            event = orjson.loads(line)
            seen.add(event["type"])
            if {"consensus", "signal", "whale"} <= seen:
                break
        process.send_signal(signum)
        rest, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()
    assert {"consensus", "signal", "whale"} <= seen
    for line in rest.splitlines():  # whatever was flushed at the end is whole JSON
        orjson.loads(line)
    assert b"Traceback" not in stderr
    assert b"stopping on signal" in stderr


def test_headless_output_into_a_closed_pipe_exits_quietly(tmp_path, cli_env):
    process = _start(cli_env, tmp_path, "--demo", "--headless", "--speed", "30")
    process.stdout.readline()
    process.stdout.close()  # like `| head -1`
    try:
        process.wait(timeout=30)
        stderr = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr

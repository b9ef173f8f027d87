"""Drive a real Jupyter kernel as a notebook front end does: `python kernel_driver.py
CELLS.json [--kill-when-logged TEXT]` starts an ipykernel in the current directory through
jupyter_client, executes each cell in turn, then shuts the kernel down (or, with
--kill-when-logged, SIGKILLs it once TEXT is in a journal of $RECIPE_HOME/spool), and
prints {"cells": [{status, text}], "pid": kernel pid} as JSON.

A script of its own, so that the test process never holds kernel sockets or threads.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import sys
import time

from jupyter_client.manager import start_new_kernel


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("cells")
    parser.add_argument("--kill-when-logged", metavar="TEXT")
    options = parser.parse_args()
    with open(options.cells, encoding="utf-8") as handle:
        cells = json.load(handle)
    manager, client = start_new_kernel(kernel_name="python3", cwd=os.getcwd())
    pid = manager.provisioner.process.pid
    done = []
    try:
        for code in cells:
            text: list[str] = []

            def keep(message: dict, text: list[str] = text) -> None:
                content = message["content"]
                text.append(content.get("text") or content.get("evalue") or "")

            reply = client.execute_interactive(code, timeout=120, output_hook=keep)
            done.append({"status": reply["content"]["status"], "text": "".join(text)})
        if options.kill_when_logged:
            spool = os.path.join(os.environ["RECIPE_HOME"], "spool", "*.events")
            deadline = time.monotonic() + 60
            while not any(options.kill_when_logged in open(path, encoding="utf-8").read()
                          for path in glob.glob(spool)):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{options.kill_when_logged!r} never reached the spool")
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
            manager.provisioner.process.wait()
        else:
            manager.shutdown_kernel(now=False)
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)
        manager.cleanup_resources()
    json.dump({"cells": done, "pid": pid}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

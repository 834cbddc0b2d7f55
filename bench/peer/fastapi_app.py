# SPDX-License-Identifier: MIT
"""The seed experiment's peer: the hello-world API on FastAPI, served by uvicorn, with the same
endpoints and bodies hiroba's demo routes have (API.md §7.6), so `hiroba bench` can compare the
two on the seed workload (600 GET over /hello/, /test/, /aaa/).

Run: /usr/bin/python3 -m uvicorn --app-dir bench/peer fastapi_app:app --host 127.0.0.1 --port 8001
(bench/loadgen.sh does this on a free loopback port.)"""
import asyncio

from fastapi import FastAPI, Query

app = FastAPI()

HELLO = {"message": "Hello, World!"}  # {"message":"Hello, World!"}: 27 bytes, as hiroba's


@app.get("/hello/")
async def hello():
    return HELLO


@app.get("/test/")
async def test():
    return HELLO


@app.get("/aaa/")
async def aaa():
    return HELLO


@app.get("/slow/")
async def slow(ms: int = Query(..., ge=0, le=10000)):
    """Waits ms milliseconds on the event loop's timer, never blocking it."""
    await asyncio.sleep(ms / 1000)
    return {"message": "Hello, World!", "slept_ms": ms}


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}

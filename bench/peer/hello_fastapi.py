# SPDX-License-Identifier: MIT
"""The seed's hello world on FastAPI, the peer of bench/http.sh: GET /hello/ answers the same
27-byte JSON body hiroba and the nginx peer send. Run with one uvicorn worker:
    python3 -m uvicorn hello_fastapi:app --app-dir bench/peer --port 8001 --no-access-log"""
from fastapi import FastAPI

app = FastAPI()


@app.get("/hello/")
async def hello():
    return {"message": "Hello, World!"}

# SPDX-License-Identifier: MIT
"""GET /api/schema/ (API.md §7.7): OpenAPI 3.1, every routed API path, bearer security."""
import requests


def test_schema_covers_the_api(server):
    r = requests.get(server.url + "/api/schema/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    d = r.json()
    assert d["openapi"].startswith("3.1")
    assert "ws/chat" in d["info"]["description"]
    assert d["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    paths = d["paths"]
    for path, methods in (("/api/topics/", {"get", "post"}),
                          ("/api/topics/{id}/", {"get", "put", "patch", "delete"}),
                          ("/api/topics/{id}/replies/", {"get"}),
                          ("/api/rooms/{id}/chatlogs/", {"get"}),
                          ("/api/token/refresh/", {"post"}), ("/api/me/", {"get"})):
        assert set(paths[path]) == methods, path
    assert paths["/api/topics/"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in paths["/api/token/"]["post"]
    assert paths["/api/topics/"]["post"]["requestBody"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/Topic"}
    assert list(d["components"]["schemas"]["Topic"]["properties"]) == [
        "id", "category", "created_at", "comment", "author"]
    assert set(paths["/api/categories/{id}/"]["delete"]["responses"]) >= {"204", "401", "403", "404"}

"""The dashboard's typed client is generated from web/openapi.json: it must match the API.

After changing the API, run `make openapi` (exports the document and regenerates
web/src/api/schema.d.ts).
"""

import json
from pathlib import Path

from campaign_dispatch.app import create_app
from campaign_dispatch.config import Settings

WEB_OPENAPI = Path(__file__).resolve().parents[2] / "web" / "openapi.json"


def test_web_openapi_matches_the_api(tmp_path):
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        api_keys=None,
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
    )
    current = json.loads(json.dumps(create_app(settings).openapi()))
    committed = json.loads(WEB_OPENAPI.read_text())
    assert committed == current, "web/openapi.json is stale: run `make openapi`"

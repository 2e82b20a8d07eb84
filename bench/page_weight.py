"""Page weight: the bytes a citizen's browser fetches for each form, HTML and stylesheet together.

Every Member State's form in every language is served by the app (in process, wired to in-memory
fakes as in bench.get_pages_probe) and weighed as sent and gzip-compressed, as CloudFront compresses
text for browsers that accept it. The issue's budget is 50 KB transferred for the form page.
"""

from __future__ import annotations

import gzip
import re

from chalice.test import Client

from bench import BenchError, Figure, progress

BUDGET_BYTES = 50_000
_STYLESHEETS = re.compile(rb'<link rel="stylesheet" href="([^"]+)"')


def figures() -> list[Figure]:
    import app as app_module
    from bench.get_pages_probe import configure_in_memory_services
    from chalicelib.rules.member_states import all_member_states
    from chalicelib.web.i18n import SUPPORTED_LANGUAGES

    progress("weighing every form page in every language")
    configure_in_memory_services()
    weights: list[tuple[int, int, str]] = []
    with Client(app_module.app) as client:
        stylesheets: dict[bytes, bytes] = {}
        for language in SUPPORTED_LANGUAGES:
            for state in all_member_states():
                path = f"/sign/{state.code}?lang={language}"
                response = client.http.get(path)
                if response.status_code != 200 or b'name="form_token"' not in response.body:
                    raise BenchError(f"GET {path} did not serve the open form ({response.status_code})")
                parts = [response.body]
                for href in _STYLESHEETS.findall(response.body):
                    if href not in stylesheets:
                        stylesheets[href] = client.http.get(href.decode()).body
                    parts.append(stylesheets[href])
                weights.append((sum(map(len, parts)), sum(len(gzip.compress(part)) for part in parts), path))
    heaviest_raw, heaviest_gzip, heaviest_path = max(weights)
    within = sum(1 for raw, _, _ in weights if raw <= BUDGET_BYTES)
    return [
        Figure("form_page_max_bytes", f"{heaviest_raw:,}", f"bytes uncompressed, HTML + CSS ({heaviest_path})"),
        Figure("form_page_max_gzip_bytes", f"{heaviest_gzip:,}", "bytes gzip-compressed, as CloudFront sends it"),
        Figure("form_pages_within_50kb", f"{within}/{len(weights)}", "forms (27 States x 24 languages), uncompressed"),
    ]


if __name__ == "__main__":
    for figure in figures():
        print(figure.line())

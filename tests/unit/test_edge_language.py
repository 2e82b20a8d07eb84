"""The edge picks the same page language as the app, so CloudFront's cache key holds the right one.

infra/edge.yaml's CloudFront Function (viewer request) writes into ?lang= the language that
chalicelib.web.i18n.choose_language would choose from ?lang= and Accept-Language; the cache keys on
?lang=. Here the function runs under Node.js on the same inputs as choose_language, and both must agree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.config import PROJECT_ROOT
from chalicelib.local.provision import load_template
from chalicelib.web.i18n import SOURCE_LANGUAGE, SUPPORTED_LANGUAGES, choose_language

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js runs the CloudFront Function (apt-get install nodejs)")

FUNCTION_CODE = load_template(PROJECT_ROOT / "infra" / "edge.yaml")["Resources"]["LanguageFunction"]["Properties"][
    "FunctionCode"]

# Feeds each case to handler() as CloudFront would (event.request), and prints what reaches the origin.
HARNESS = """
var cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
var results = cases.map(function (c) {
  var request = { method: c.method, uri: c.uri, querystring: {}, headers: {}, cookies: {} };
  if (c.lang !== null) request.querystring.lang = { value: c.lang };
  if (c.accept !== null) request.headers["accept-language"] = { value: c.accept };
  var out = handler({ version: "1.0", context: { eventType: "viewer-request" }, viewer: { ip: "192.0.2.1" },
                      request: request });
  return out.querystring.lang ? out.querystring.lang.value : null;
});
process.stdout.write(JSON.stringify(results));
"""

Case = tuple[str | None, str | None]  # (?lang= value, Accept-Language header); None: absent


def edge_languages(tmp_path: Path, cases: list[Case], uri: str = "/sign/DE", method: str = "GET") -> list[str | None]:
    script = tmp_path / "language.js"
    script.write_text(FUNCTION_CODE + HARNESS, encoding="utf-8")
    payload = json.dumps([{"lang": lang, "accept": accept, "uri": uri, "method": method} for lang, accept in cases])
    assert NODE is not None
    done = subprocess.run([NODE, str(script)], input=payload, capture_output=True, text=True,  # noqa: S603
                          check=True, timeout=60)
    results: list[str | None] = json.loads(done.stdout)
    return results


def app_languages(cases: list[Case]) -> list[str]:
    return [choose_language(None if lang is None else {"lang": lang}, accept) for lang, accept in cases]


EXAMPLES: list[Case] = [
    ("fr", "en-GB,en;q=0.9"), ("en", "fr-FR,fr;q=0.9"), ("FR", None), (" fr ", None), ("xx", "fr"), ("", "fr"),
    (None, "fr-FR,fr;q=0.9,en;q=0.8"), (None, "fr-CA"), (None, "FR-be"), (None, "de-DE,de;q=0.9,fr;q=0.8,en;q=0.7"),
    (None, "en;q=0.5,fr;q=0.8"), (None, "en;q=0.8,fr;q=0.8"), (None, "fr;q=0,en;q=0.1"), (None, "fr;q=0"),
    (None, "fr;q=abc,en;q=0.5"), (None, "fr ; q=0.9 , de"), (None, "*"), (None, "*;q=0.5,fr;q=0.4"), (None, None),
    (None, ""), (None, ",,,;;;"), (None, "x" * 5000), (None, ",".join(["xx"] * 30) + ",fr"),
    (None, "pl,cs;q=0.5"), (None, "ga-IE"), (None, "pt-BR,pt;q=0.9"), (None, "zh-CN,ja;q=0.5,sv;q=0.1"),
    (None, "fr;q=1_0,de;q=0.5"), (None, "fr;q=.5,de;q=0.4"), (None, "fr;q=5.,de;q=0.4"), (None, "fr;q=inf,de"),
    (None, "fr;q=-1,de;q=1e-3"), (None, "fr;q=NaN,de;q=0.1"), (None, "fr;q=0x1,de;q=0.1"),
    (None, "fr;q= 0.3 ,de;q=0.2"),
    (None, "fr;level=1;q=0.1,de;q=0.5"), (None, "fr;q=0.9;level=1,de;q=0.5"), (None, "Fr;Q=0.1,de;q=0.5"),
    *[(code, "de") for code in SUPPORTED_LANGUAGES], *[(None, f"xx,{code};q=0.5") for code in SUPPORTED_LANGUAGES],
]


def test_edge_chooses_the_language_the_app_would_choose(tmp_path: Path) -> None:
    assert edge_languages(tmp_path, EXAMPLES) == app_languages(EXAMPLES)


def test_edge_offers_exactly_the_apps_languages(tmp_path: Path) -> None:
    asked = [(code, None) for code in SUPPORTED_LANGUAGES] + [("xx", None), ("eng", None)]

    assert edge_languages(tmp_path, asked) == [*SUPPORTED_LANGUAGES, SOURCE_LANGUAGE, SOURCE_LANGUAGE]


def test_submission_keeps_the_language_of_its_form(tmp_path: Path) -> None:
    assert edge_languages(tmp_path, [("pl", "de-DE")], method="POST") == ["pl"]


@pytest.mark.parametrize("uri", ["/assets/site.css", "/counts.json"])
def test_language_free_resources_keep_one_cached_copy(tmp_path: Path, uri: str) -> None:
    assert edge_languages(tmp_path, [(None, "fr")], uri=uri) == [None]


# Accept-Language as browsers send it, and as anyone may: tags, q-values (broken ones too), separators.
_TAG = st.one_of(st.sampled_from([*SUPPORTED_LANGUAGES, "xx", "zh", "*", "EN", "Fr", ""]),
                 st.text(alphabet="abcdefzAZ-_*", max_size=6))
_Q = st.one_of(st.decimals(min_value=-1, max_value=2, places=3).map(str), st.sampled_from(
    ["", "1", "0", ".5", "5.", "1_0", "0_5", "1e-2", "1E1", "inf", "-inf", "nan", "0x1", " 0.5 ", "abc", "+0.5"]))
_ITEM = st.builds(lambda tag, q, extra: tag + (f";q={q}" if q is not None else "") + extra,
                  _TAG, st.none() | _Q, st.sampled_from(["", " ", ";level=1", ";Q=0.1", " ;q=0.2"]))
_HEADER = st.one_of(st.lists(_ITEM, max_size=25).map(",".join), st.lists(_ITEM, max_size=6).map(" , ".join),
                    st.text(alphabet="abcdefrzAZ-;=,.*q0159 \t_+", max_size=60))
_LANG = st.none() | st.sampled_from([*SUPPORTED_LANGUAGES, "", "xx", "FR", " de", "en-GB"])


# Each example is a batch of cases, so Node starts a few times, not once per header.
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases=st.lists(st.tuples(_LANG, st.none() | _HEADER), min_size=100, max_size=200))
def test_edge_and_app_agree_on_any_accept_language(tmp_path_factory: pytest.TempPathFactory,
                                                    cases: list[Case]) -> None:
    tmp_path = tmp_path_factory.mktemp("edge")
    assert edge_languages(tmp_path, cases) == app_languages(cases)


def test_function_fits_cloudfront_limits() -> None:
    """CloudFront Functions take at most 10 KB of code."""
    code: Any = FUNCTION_CODE
    assert len(code.encode("utf-8")) < 10_240


# Feeds each path to handler() and prints the path that reaches the origin.
PATH_HARNESS = """
var uris = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(uris.map(function (uri) {
  var request = { method: "GET", uri: uri, querystring: {}, headers: {}, cookies: {} };
  return handler({ version: "1.0", context: { eventType: "viewer-request" }, request: request }).uri;
})));
"""


def edge_paths(tmp_path: Path, uris: list[str]) -> list[str]:
    script = tmp_path / "paths.js"
    script.write_text(FUNCTION_CODE + PATH_HARNESS, encoding="utf-8")
    assert NODE is not None
    done = subprocess.run([NODE, str(script)], input=json.dumps(uris), capture_output=True, text=True,  # noqa: S603
                          check=True, timeout=60)
    paths: list[str] = json.loads(done.stdout)
    return paths


def test_every_route_of_the_app_reaches_it_and_any_other_path_gets_its_not_found_page(tmp_path: Path) -> None:
    import re

    import app as app_module

    # Each route of app.py, its {parameters} filled in as a visitor's path would fill them.
    routes = [re.sub(r"\{\w+\}", "DE", path) for path in app_module.app.routes]
    assert len(routes) >= 6 and "/not-found" in routes
    unknown = ["/favicon.ico", "/robots.txt", "/sign/", "/sign/DE/extra", "/index.html", "/admin", "//", "/assets/"]

    assert edge_paths(tmp_path, routes) == routes
    assert edge_paths(tmp_path, unknown) == ["/not-found"] * len(unknown)

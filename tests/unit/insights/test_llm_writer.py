"""The language-model writer against a local fake OpenAI-compatible server: a good answer is used, a wrong number,
a timeout and garbage each fall back to the template with the rejection logged; the prompt holds only the facts;
the number check knows how people round."""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.insights.facts import Facts
from services.insights.llm import OpenAICompatibleProvider, prompt_for, unmatched_numbers, write_with_model
from services.insights.summaries import template_text

GOOD = ("Signal & Noise had 1,234 downloads this week, up 12.5% on the week before. "
        "Apple Podcasts brought 40% of them. Nothing unusual was flagged.")
WRONG = "Signal & Noise had 1,500 downloads this week, up 12.5% on the week before. Listeners were many."


def _facts() -> Facts:
    facts = Facts("podcast", date(2026, 11, 23), date(2026, 11, 29))
    for name, value, source in (("period_first", "2026-11-23", "period"), ("period_last", "2026-11-29", "period"),
                                ("period_days", 7, "period"), ("show", "Signal & Noise", "podcasts"),
                                ("downloads", 1234, "podcast_daily_metrics"),
                                ("downloads_previous", 1097, "podcast_daily_metrics"),
                                ("downloads_change_pct", 12.5, "podcast_daily_metrics"),
                                ("avg_daily_listeners", 150, "podcast_daily_metrics"),
                                ("top_app", "Apple Podcasts", "podcast_app_daily_metrics"),
                                ("top_app_share_pct", 40.2, "podcast_app_daily_metrics"),
                                ("anomalies", 0, "anomalies")):
        facts.add(name, value, source)
    return facts


class FakeModel(BaseHTTPRequestHandler):
    """Answers per the server's `mode`: good, wrong (an invented number), slow (past the client's timeout), garbage."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        mode = self.server.mode
        if mode == "slow":
            time.sleep(1.5)
        if mode == "garbage":
            payload = b"<html>upstream error</html>"
        else:
            text = WRONG if mode == "wrong" else GOOD
            payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
            pass

    def log_message(self, *_args):
        pass


@pytest.fixture
def fake_model():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeModel)
    server.daemon_threads = True
    server.mode, server.requests = "good", []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _provider(server, timeout: float = 5.0) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(f"http://127.0.0.1:{server.server_address[1]}/v1", "sk-test", "test-model",
                                    timeout)


def test_a_good_answer_is_used_and_the_request_is_openai_shaped(fake_model):
    text = write_with_model(_facts(), _provider(fake_model))
    assert text == GOOD
    sent = fake_model.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer sk-test"
    assert sent["body"]["model"] == "test-model"
    assert [m["role"] for m in sent["body"]["messages"]] == ["system", "user"]
    assert json.loads(sent["body"]["messages"][1]["content"])["facts"]["downloads"] == 1234


def test_an_answer_with_a_number_not_in_the_facts_is_rejected_and_logged(fake_model, caplog):
    fake_model.mode = "wrong"
    with caplog.at_level(logging.WARNING, logger="services.insights.llm"):
        assert write_with_model(_facts(), _provider(fake_model)) is None
    rejected = [r for r in caplog.records if "numbers not in the facts" in r.getMessage()]
    assert rejected and rejected[0].numbers == ["1,500"]


def test_a_model_slower_than_the_timeout_falls_back_to_the_template(fake_model, caplog):
    fake_model.mode = "slow"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="services.insights.llm"):
        assert write_with_model(_facts(), _provider(fake_model, timeout=0.3)) is None
    assert time.monotonic() - started < 1.4  # gave up at the timeout, did not wait for the answer
    assert any("writer failed" in r.getMessage() and "timed out" in r.error for r in caplog.records)


def test_a_garbage_answer_falls_back_to_the_template(fake_model, caplog):
    fake_model.mode = "garbage"
    with caplog.at_level(logging.WARNING, logger="services.insights.llm"):
        assert write_with_model(_facts(), _provider(fake_model)) is None
    assert any("writer failed" in r.getMessage() and "JSONDecodeError" in r.error for r in caplog.records)


def test_the_prompt_holds_only_the_facts_names_and_values():
    facts = _facts()
    prompt = json.loads(prompt_for(facts))
    assert prompt == {"scope": "podcast", "facts": {f.name: f.value for f in facts.items}}
    assert "source" not in prompt_for(facts) and "listener_key" not in prompt_for(facts) and "_id" not in prompt_for(facts)


@pytest.mark.parametrize("text, bad", [
    ("1,234 downloads", []), ("1234 downloads", []), ("1.2k downloads", []), ("about 1k downloads", []),
    ("up 12.5%", []), ("up 13%", []), ("up 15%", ["15"]), ("down 12.5%", []), ("40% from Apple", []),
    ("150 listeners a day over 7 days", []), ("from Nov 23 to Nov 29", []), ("on 2026-11-23", []), ("on Nov 4", ["4"]),
    ("1.3k downloads", ["1.3k"]), ("1,240 downloads", ["1,240"]), ("2 million", ["2"]),
])
def test_numbers_are_checked_with_the_rounding_people_use(text, bad):
    assert unmatched_numbers(text, _facts()) == bad


def test_the_template_text_passes_its_own_check():
    facts = _facts()
    assert unmatched_numbers(template_text(facts), facts) == []


def test_the_writer_is_configured_by_settings_and_bad_values_are_named(tmp_path):
    from services.errors import ConfigError
    from services.insights.llm import provider_from_settings
    from services.settings import load_settings

    base = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 32}
    assert provider_from_settings(load_settings(base)) is None  # the template only, by default
    provider = provider_from_settings(load_settings({**base, "LLM_BASE_URL": "http://127.0.0.1:9/v1/",
                                                     "LLM_API_KEY": "sk-x", "LLM_MODEL": "m",
                                                     "LLM_TIMEOUT_SECONDS": "2.5"}))
    assert (provider.base_url, provider.api_key, provider.model, provider.timeout) == ("http://127.0.0.1:9/v1", "sk-x",
                                                                                       "m", 2.5)
    for name, value in (("LLM_BASE_URL", "ftp://x"), ("LLM_TIMEOUT_SECONDS", "soon"), ("LLM_TIMEOUT_SECONDS", "0")):
        with pytest.raises(ConfigError, match=name):
            load_settings({**base, name: value})

"""The optional language-model writer: a provider interface, an OpenAI-compatible HTTP provider, the prompt (the facts
and nothing else) and the check that every number the model wrote is one of the facts.

Anything short of a checked answer (timeout, error, garbage, an invented number) falls back to the template text."""
from __future__ import annotations

import json
import logging
import math
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from services.insights.facts import Facts
from services.settings import Settings

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You write a short summary of a podcast analytics period for the people who run the shows. "
    "Write 3 to 6 plain sentences, no lists, no headings. Use only the facts given as JSON. "
    "Every number you write must be one of the facts' values (rounding is fine, e.g. 1.2k or 12%). "
    "Do not add numbers, dates or names that are not in the facts.")
MAX_ANSWER_CHARS = 2000
# A number as people write it: 1,234 / 1234 / 1.2k / 3M / 12.5% / -4%.
NUMBER = re.compile(r"(?<![\w.])[-+−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?:\s?[kKmM]\b)?|"
                    r"(?<![\w.])[-+−]?\d+(?:\.\d+)?(?:\s?[kKmM]\b)?")
MULTIPLIERS = {"k": 1e3, "m": 1e6}


class WriterError(Exception):
    """The model could not give a usable answer (network, timeout, bad JSON, empty text)."""


class LlmProvider(Protocol):
    def complete(self, system: str, prompt: str) -> str: ...


@dataclass(frozen=True)
class OpenAICompatibleProvider:
    """POST {base_url}/chat/completions with a bearer key, as OpenAI and the servers that mimic it answer."""

    base_url: str
    api_key: str | None
    model: str
    timeout: float = 10.0

    def complete(self, system: str, prompt: str) -> str:
        body = json.dumps({"model": self.model, "temperature": 0, "messages": [
            {"role": "system", "content": system}, {"role": "user", "content": prompt}]}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.base_url.rstrip('/')}/chat/completions", data=body, headers=headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (a configured URL)
                payload = json.loads(response.read(1 << 20))
            text = payload["choices"][0]["message"]["content"]
        except (urllib.error.URLError, TimeoutError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise WriterError(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(text, str) or not text.strip():
            raise WriterError("empty answer")
        return text.strip()


def provider_from_settings(settings: Settings) -> OpenAICompatibleProvider | None:
    """The configured provider, or None when LLM_BASE_URL is unset (the template writer only)."""
    if not settings.llm_base_url:
        return None
    return OpenAICompatibleProvider(settings.llm_base_url, settings.llm_api_key, settings.llm_model,
                                    settings.llm_timeout_seconds)


def prompt_for(facts: Facts) -> str:
    """The facts as JSON name -> value: titles and figures only, never ids or listener keys."""
    return json.dumps({"scope": facts.scope, "facts": {f.name: f.value for f in facts.items}}, ensure_ascii=False)


def unmatched_numbers(text: str, facts: Facts) -> list[str]:
    """The numbers in `text` that match no fact: a numeric fact within the written number's rounding (1.2k matches
    1,150 to 1,250; 12% matches 11.5 to 12.5; signs ignored, "down 4%" states -4), or a whole number written in a
    text fact (a date's day, an episode's number)."""
    values = [abs(float(f.value)) for f in facts.items if isinstance(f.value, (int, float))
              and not isinstance(f.value, bool)]
    in_texts = {run for f in facts.items if isinstance(f.value, str) for run in re.findall(r"\d+", f.value)}
    bad = []
    for match in NUMBER.finditer(text):
        token = match.group(0)
        written, tolerance = _parse(token)
        digits = token.lstrip("+-−").split()[0].rstrip("kKmM")
        if any(math.isclose(written, v, abs_tol=tolerance) or abs(written - v) <= tolerance for v in values):
            continue
        if digits.replace(",", "") in in_texts or digits.lstrip("0") in in_texts:
            continue
        bad.append(token)
    return bad


def _parse(token: str) -> tuple[float, float]:
    """(absolute value, half a unit of its last written digit) of a written number."""
    token = token.replace("−", "-").lstrip("+-").replace(" ", "")
    multiplier = MULTIPLIERS.get(token[-1].lower(), 1.0) if token[-1].isalpha() else 1.0
    number = token.rstrip("kKmM").replace(",", "")
    decimals = len(number.split(".")[1]) if "." in number else 0
    return float(number) * multiplier, 0.5 * 10 ** -decimals * multiplier + 1e-9


def write_with_model(facts: Facts, provider: LlmProvider) -> str | None:
    """The model's text when it passes the check, else None (the caller keeps the template); each rejection is
    logged with why."""
    try:
        text = provider.complete(SYSTEM_PROMPT, prompt_for(facts))[:MAX_ANSWER_CHARS]
    except WriterError as exc:
        logger.warning("summary writer failed, template used", extra={"scope": facts.scope, "error": str(exc)})
        return None
    bad = unmatched_numbers(text, facts)
    if bad:
        logger.warning("summary rejected: numbers not in the facts, template used",
                       extra={"scope": facts.scope, "numbers": bad[:10]})
        return None
    if len(re.findall(r"[A-Za-z]", text)) < 20:
        logger.warning("summary rejected: no usable text, template used", extra={"scope": facts.scope})
        return None
    return text

"""What a customer wrote, read by the hub's own rules: the language (English or Spanish),
the Spanish sentiment (a VADER-style scorer over :mod:`domain.lexicon_es`) and the
churn-intent signals. Pure: no I/O, no model downloaded, nothing learned at run time.
English sentiment is VADER's (:mod:`runtime.text_classifier` wires them together).

The sentiment label comes from the learned model of the text's language
(:mod:`runtime.sentiment_model`), with one rule of the hub for what customers write to a
vendor: text that carries a churn-intent signal (a customer asking to cancel, waiting for
an answer, disputing a bill ...) is negative unless it scores clearly positive
(``SIGNAL_POSITIVE_ABOVE``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.lexicon_es import STEMS, WORDS


class Language(StrEnum):
    EN = "en"
    ES = "es"


class Sentiment(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class Signal(StrEnum):
    """Churn-intent signals in what a customer wrote."""

    CANCELLATION = "cancellation"  # cancel, downgrade, not renew, leave
    COMPETITOR = "competitor"  # names a competitor or an alternative
    WAITING = "waiting"  # still waiting, no response
    ESCALATION = "escalation"  # asks for a manager, a formal complaint
    BILLING_DISPUTE = "billing_dispute"  # overcharged, refund, wrong invoice


SIGNAL_LABELS: dict[Signal, str] = {
    Signal.CANCELLATION: "cancellation or downgrade intent",
    Signal.COMPETITOR: "competitor mention",
    Signal.WAITING: "waiting / no response",
    Signal.ESCALATION: "escalation request",
    Signal.BILLING_DISPUTE: "billing dispute",
}


class TextVerdict(BaseModel):
    """``cshub ai sentiment --json`` prints a list of these."""

    text: str
    language: Language
    label: Sentiment
    score: float = Field(ge=-1, le=1)
    signals: list[Signal] = Field(default_factory=list)

    @property
    def alarming(self) -> bool:
        """Negative, or carrying a churn-intent signal: worth a CSM's attention."""
        return self.label is Sentiment.NEGATIVE or bool(self.signals)


SIGNAL_POSITIVE_ABOVE = 0.5
# Spanish keeps the lexicon's label (the learned Spanish model, trained on 475 tweets,
# reads support questions as negative; runtime/sentiment_models/MODEL_CARD.md): VADER's
# convention, and a negated statement that is not clearly positive is a complaint.
POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05
COMPLAINT_BELOW = 0.4

_NEGATED = re.compile(
    r"\b(?:not|no|never|cannot|nobody|nothing|nunca|nadie|nada|ni|sin|tampoco)\b|n't\b",
    re.IGNORECASE,
)


def lexicon_label(score: float, negation: bool) -> Sentiment:
    """The label of a lexicon score: "still no answer after 3 days" is a complaint
    however neutral its words."""
    if negation and score < COMPLAINT_BELOW:
        return Sentiment.NEGATIVE
    if score >= POSITIVE_AT:
        return Sentiment.POSITIVE
    if score <= NEGATIVE_AT:
        return Sentiment.NEGATIVE
    return Sentiment.NEUTRAL


def negated(text: str) -> bool:
    """The text says something is not so (a complaint's usual shape)."""
    return _NEGATED.search(text) is not None


def label_for(label: Sentiment, score: float, signals: list[Signal]) -> Sentiment:
    """The model's label, except that a churn-intent signal makes a text that is not
    clearly positive negative."""
    if signals and score < SIGNAL_POSITIVE_ABOVE:
        return Sentiment.NEGATIVE
    return label


# ------------------------------------------------------------------ language
_ES_WORDS = frozenset(
    [
        "el",
        "la",
        "los",
        "las",
        "de",
        "del",
        "que",
        "y",
        "en",
        "un",
        "una",
        "es",
        "no",
        "por",
        "con",
        "para",
        "muy",
        "pero",
        "mi",
        "me",
        "se",
        "lo",
        "al",
        "esta",
        "este",
        "estoy",
        "están",
        "hay",
        "nos",
        "su",
        "sus",
        "ya",
        "porque",
        "como",
        "más",
        "mas",
        "cuando",
        "sin",
        "todo",
        "nada",
        "también",
        "tambien",
        "hace",
        "han",
        "ha",
        "he",
        "fue",
        "son",
        "gracias",
        "hola",
        "vuelo",
        "vuelos",
        "servicio",
    ]
)
_EN_WORDS = frozenset(
    [
        "the",
        "and",
        "to",
        "is",
        "it",
        "you",
        "of",
        "for",
        "my",
        "on",
        "this",
        "that",
        "with",
        "not",
        "was",
        "have",
        "are",
        "be",
        "your",
        "me",
        "we",
        "i",
        "in",
        "at",
        "our",
        "so",
        "but",
        "just",
        "can",
        "will",
        "what",
        "get",
        "no",
        "an",
        "do",
        "from",
        "they",
        "been",
        "has",
        "had",
        "thanks",
        "please",
        "why",
        "how",
        "still",
        "flight",
        "service",
    ]
)
_ES_CHARS = re.compile(r"[ñáéíóú¿¡]")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def detect_language(text: str) -> Language:
    """English or Spanish, by function words and Spanish letters; English when unsure."""
    words = [w.lower() for w in _WORD.findall(text)]
    es = sum(w in _ES_WORDS for w in words) + 2 * len(_ES_CHARS.findall(text.lower()))
    en = sum(w in _EN_WORDS for w in words)
    return Language.ES if es > en else Language.EN


# ------------------------------------------------------------------ Spanish sentiment
_NEGATIONS = frozenset({"no", "nunca", "jamas", "tampoco", "ni", "nada", "sin", "ningun"})
_BOOSTERS: dict[str, float] = {
    "muy": 0.293,
    "super": 0.293,
    "mucho": 0.293,
    "muchisimo": 0.4,
    "demasiado": 0.293,
    "bastante": 0.2,
    "tan": 0.293,
    "totalmente": 0.293,
    "realmente": 0.293,
    "absolutamente": 0.293,
    "increiblemente": 0.293,
    "poco": -0.293,
    "algo": -0.15,
}
_BUT = frozenset({"pero", "aunque", "sin embargo"})
_N_SCALAR = -0.74  # VADER's negation factor
_ALPHA = 15.0  # VADER's normalisation constant


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


_STEM_LENGTHS = sorted({len(s) for s in STEMS}, reverse=True)


def _valence(word: str) -> float:
    value = WORDS.get(word)
    if value is not None:
        return value
    for n in _STEM_LENGTHS:
        if len(word) > n:
            stem = STEMS.get(word[:n])
            if stem is not None:
                return stem
        elif len(word) == n:
            stem = STEMS.get(word)
            if stem is not None:
                return stem
    return 0.0


def spanish_score(text: str) -> float:
    """VADER's compound score, computed over the hub's Spanish lexicon: each word's valence,
    boosted by an intensifier before it, flipped (x -0.74) by a negation in the three words
    before it, weighted 0.5 before ``pero`` and 1.5 after; exclamation marks add emphasis;
    the sum is normalised to -1..1."""
    raw_words = _WORD.findall(text)
    words = [strip_accents(w.lower()) for w in raw_words]
    shouting = sum(w.isupper() and len(w) > 1 for w in raw_words) < len(raw_words)
    but_at = next((i for i, w in enumerate(words) if w in _BUT), None)
    valences: list[float] = []
    for i, word in enumerate(words):
        v = _valence(word)
        if v == 0.0:
            continue
        if shouting and raw_words[i].isupper() and len(raw_words[i]) > 1:
            v += 0.733 if v > 0 else -0.733
        if i > 0 and words[i - 1] in _BOOSTERS:
            b = _BOOSTERS[words[i - 1]]
            v += b if v > 0 else -b
        if any(w in _NEGATIONS for w in words[max(0, i - 3) : i]) and word not in _NEGATIONS:
            v *= _N_SCALAR
        if but_at is not None:
            v *= 0.5 if i < but_at else 1.5 if i > but_at else 1.0
        valences.append(v)
    total = sum(valences)
    if total:
        bangs = min(text.count("!"), 4) * 0.292
        total += bangs if total > 0 else -bangs
    return round(total / math.sqrt(total * total + _ALPHA), 4) if total else 0.0


# ------------------------------------------------------------------ intent signals
def _rx(*patterns: str) -> re.Pattern[str]:
    """One pattern per signal, matched against the lower-cased text."""
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_SIGNAL_PATTERNS: dict[Signal, re.Pattern[str]] = {
    Signal.CANCELLATION: _rx(
        r"\bcancel(?:l?ing|l?ed)?\s+(?:my|our|the)\s+(?:subscription|account|plan|contract|service)",
        r"\b(?:want|going|plan(?:ning)?|need)\s+to\s+cancel\b",
        r"\b(?:won'?t|will\s+not|not\s+going\s+to|don'?t\s+plan\s+to)\s+renew",
        r"\bdowngrad(?:e|ing)\b",
        r"\bcheaper\s+plan\b",
        r"\b(?:close|terminate|delete)\s+(?:my|our)\s+account\b",
        r"\bwe(?:'re|\s+are)\s+(?:leaving|moving\s+away|switching)\b",
        r"\bcancelar\s+(?:la|mi|nuestra|el)?\s*(?:suscripci[oó]n|cuenta|plan|contrato|servicio)",
        r"\b(?:quiero|queremos|vamos\s+a|voy\s+a)\s+(?:cancelar|darnos?\s+de\s+baja|darme\s+de\s+baja)",
        r"\bdar(?:me|nos)\s+de\s+baja\b",
        r"\bno\s+(?:vamos\s+a\s+|voy\s+a\s+)?renova(?:r|remos|ré|re)\b",
        r"\bbajar\s+de\s+plan\b",
        r"\bplan\s+m[aá]s\s+barato\b",
    ),
    Signal.COMPETITOR: _rx(
        r"\b(?:switch(?:ing)?|mov(?:e|ing))\s+to\s+(?:a\s+)?(?:another|a\s+different|competitor)",
        r"\bcompetitors?\b",
        r"\b(?:alternative|other)\s+(?:tool|vendor|provider|product)s?\b",
        r"\bzapier\b|\bmake\.com\b|\bn8n\b|\bworkato\b|\btray\.io\b|\bpower\s+automate\b",
        r"\b(?:la\s+)?competencia\b",
        r"\botr[ao]\s+(?:herramienta|proveedor|plataforma|empresa)\b",
        r"\b(?:cambiarnos|cambiarme|pasarnos|pasarme|irnos|irme)\s+a\b",
        r"\balternativas?\b",
    ),
    Signal.WAITING: _rx(
        r"\bstill\s+(?:waiting|no\s+(?:reply|response|answer|word))",
        r"\bno\s+(?:one|body)\s+(?:has\s+)?(?:replied|responded|answered|called|gotten\s+back)",
        r"\b(?:no|without\s+a?)\s*(?:reply|response|answer)\s+(?:yet|from|after|for)\b",
        r"\bhaven'?t\s+(?:heard|received|gotten)\s+(?:back|anything|a\s+(?:reply|response))",
        r"\bwaiting\s+(?:for\s+)?(?:\d+|two|three|several|many)\s+(?:hours|days|weeks)",
        r"\b(?:been|on)\s+hold\b",
        r"\bignor(?:ed|ing)\s+(?:my|our|us|me)\b",
        r"\b(?:sigo|seguimos|sigue|llevo|llevamos)\s+(?:\w+\s+){0,3}esperando\b",
        r"\bsin\s+(?:ninguna\s+)?respuesta\b",
        r"\bnadie\s+(?:me|nos)\s+(?:responde|contesta|ha\s+(?:respondido|contestado)|llama)",
        r"\bno\s+(?:me|nos)\s+(?:responden|contestan|han\s+(?:respondido|contestado)|dicen\s+nada)",
        r"\b(?:d[ií]as|semanas|horas)\s+esperando\b",
    ),
    Signal.ESCALATION: _rx(
        r"\b(?:speak|talk)\s+(?:to|with)\s+(?:a|your|the)\s+(?:manager|supervisor|someone\s+senior)",
        r"\bescalat(?:e|ion|ing)\b",
        r"\bformal\s+complaint\b",
        r"\blawyer|legal\s+action\b",
        r"\bhablar\s+con\s+(?:un|el|su|algún|algun)\s+(?:supervisor|responsable|gerente|encargado|director)",
        r"\bescalar\b",
        r"\bqueja\s+formal\b|\bhoja\s+de\s+reclamaci[oó]n",
        r"\babogad[oa]s?\b|\bdenunciar\b",
    ),
    Signal.BILLING_DISPUTE: _rx(
        r"\bover\s*charged\b|\bcharged\s+(?:me\s+|us\s+)?twice\b|\bdouble[\s-]charged\b",
        r"\brefund\b",
        r"\bwrong\s+(?:invoice|charge|amount|bill)\b",
        r"\bchargeback\b|\bdisput(?:e|ing)\s+(?:the\s+|this\s+)?(?:charge|invoice|bill)",
        r"\bbilling\s+(?:error|mistake|issue)\b",
        r"\bcobr(?:ado|aron|ado)\s+dos\s+veces\b|\bcobro\s+(?:indebido|duplicado)\b",
        r"\bme\s+(?:han\s+)?cobra(?:do|ron)\s+(?:de\s+m[aá]s|mal)",
        r"\breembolso\b|\bdevoluci[oó]n\s+del?\s+(?:dinero|importe|cobro|pago)",
        r"\bfactura\s+(?:incorrecta|err[oó]nea|equivocada)\b",
        r"\bcargo\s+(?:indebido|duplicado)\b",
    ),
}


_CUES: dict[Signal, tuple[str, ...]] = {
    Signal.CANCELLATION: (
        "cancel",
        "renew",
        "renova",
        "downgrad",
        "cheaper",
        "account",
        "leaving",
        "moving",
        "switching",
        "baja",
        "plan",
    ),
    Signal.COMPETITOR: (
        "switch",
        "moving to",
        "move to",
        "competi",
        "alternativ",
        "other ",
        "zapier",
        "make.com",
        "n8n",
        "workato",
        "tray.io",
        "automate",
        "otr",
        "cambiar",
        "pasar",
        " irnos",
        " irme",
    ),
    Signal.WAITING: (
        "wait",
        "no ",
        "without",
        "nobody",
        "no one",
        "haven",
        "hold",
        "ignor",
        "esperando",
        "respuesta",
        "nadie",
    ),
    Signal.ESCALATION: (
        "manager",
        "supervisor",
        "senior",
        "escala",
        "complaint",
        "lawyer",
        "legal",
        "hablar con",
        "queja",
        "reclamaci",
        "abogad",
        "denunciar",
    ),
    Signal.BILLING_DISPUTE: (
        "charge",
        "refund",
        "invoice",
        "bill",
        "disput",
        "amount",
        "cobr",
        "reembolso",
        "devoluci",
        "factura",
        "cargo",
    ),
}
"""Substrings one of which a text must hold before its signal's pattern is tried (most
texts hold none: the patterns run on few)."""


def intent_signals(text: str) -> list[Signal]:
    """The churn-intent signals a text carries, in a fixed order."""
    lower = text.lower()
    return [
        s
        for s, rx in _SIGNAL_PATTERNS.items()
        if any(cue in lower for cue in _CUES[s]) and rx.search(lower)
    ]

"""Recognise boilerplate lines in news text: prompts, captions, credits, labels.

Shared by the HTML post-filter and the plain-text cleaner so both drop the same
junk. Every rule is generic (a phrase family or a shape of line, in English
plus cheap German/French/Spanish/Portuguese/Italian equivalents), never a rule
for one publisher. Each predicate returns a short reason code, or ``None`` when
the line looks like story text; callers log or count the codes.
"""

from __future__ import annotations

import re

__all__ = [
    "caption_echo",
    "is_timestamp",
    "junk_reason",
    "looks_truncated",
    "strip_truncation_marker",
    "word_count",
]

_WORD = re.compile(r"\w+")
_SHOUTING_MIN_WORDS = 8

# Lines that are junk whatever their length: they open with a prompt phrase.
_PREFIX = re.compile(
    r"""^\W{0,3}(?:
      (?:read|see|watch|listen|view)\s+(?:more|also|next|the\s+full|all)\b
    | (?:also\s+read|also\s+on|also\s+see|also:)
    | related(?:\s+(?:articles?|stories|posts?|content|coverage|news|reading|links?|topics?))?\s*[:\]|]
    | related\s+(?:articles?|stories|posts?|content|coverage)\s*$
    | more\s+(?:on\s+this|from|stories|news|coverage|about)\b[^.]{0,80}$
    | more:\s*$
    | recommended(?:\s+(?:for\s+you|stories|articles|reading|videos?))?\s*[:]?\s*$
    | (?:you\s+(?:may|might)\s+(?:also\s+)?(?:like|enjoy|be\s+interested))
    | don'?t\s+miss\b
    | (?:click|tap)\s+here\b
    | sign\s+up\b | subscribe\b | get\s+(?:our|the)\s+\w+(?:\s+\w+)?\s+newsletter
    | follow\s+(?:us|@|\w+(?:\s+\w+){0,5}\s+on\s+(?:twitter|facebook|instagram|x|linkedin|youtube|tiktok))
    | like\s+this\s+(?:story|article)\b
    | share\s+(?:this|on)\b
    | leave\s+a\s+(?:reply|comment)\b
    | (?:your\s+)?email\s+address\s+will\s+not\s+be\s+published
    | required\s+fields\s+are\s+marked
    | back\s+to\s+top\b
    | exit\s+mobile\s+version
    | skip\s+to\s+(?:content|main)
    | link\s+from\s+\S+\s*$
    | loading\s+comments
    | (?:show|view|read|load)\s+(?:all\s+|more\s+|new\s+)?comments
    | join\s+(?:the\s+)?(?:discussion|conversation)
    | have\s+a\s+(?:news\s+)?tip\b
    | (?:write|email|reach|contact)\s+(?:to\s+)?(?:the\s+)?(?:\w+\s+){0,3}(?:at|on)\s+\S+@\S+
    | copyright\b | ©\s*\d{4} | \(c\)\s*\d{4}
    | all\s+rights\s+reserved
    | this\s+copy\s+is\s+for\s+your\s+personal
    | thanks?\s+(?:you\s+)?for\s+(?:signing\s+up|subscribing|reading)\b
    | advertisement\s*$ | story\s+continues\s+below
    | file\s+photo\b | (?:photo|image|picture|video)\s*(?:credit)?\s*:\s
    | (?:photos?|images?)\s+(?:by|courtesy)\b
    | pictured\s*:
    | \(?(?:additional\s+)?reporting\s+by\b
    | editing\s+by\b
    | (?:compiled|written|edited)\s+by\s+[^.]{0,60}$
    | filed\s+under\s*:
    | tags?\s*:
    | (?:updated|published|posted|last\s+updated|publicado|veröffentlicht|aktualisiert|publié|mis\s+à\s+jour)
      \s*(?:at|on|:|em|am|le)?\s*(?=[^\n]{0,12}\d)[^\n]{0,50}$
    | source\s*:\s*[^.]{0,60}$
    | explore\s+further\s*$
    | if\s+you\s+(?:enjoyed|liked|like|value|appreciate)\s+(?:this|our|reading)
    | tell\s+us\s+what\s+you\s+think | let\s+us\s+know\s+(?:what\s+you\s+think|in\s+the\s+comments)
    | reach\s+(?:the\s+)?(?:reporters?|writers?|authors?)\b
    | (?:follow|more|listen|download|watch|visit|read|see|subscribe|itunes|spotify|for\s+more)\b
      [^\n]{0,120}(?:https?://|www\.)\S+\s*$
    | \S+@\S+\.\w+\s*$
    | (?:this\s+(?:article|story)\s+(?:was\s+)?)?(?:originally|first)\s+(?:published|appeared)\s+(?:on|in|at)\b[^.]{0,80}\.?$
    | (?:most\s+(?:read|popular|viewed|shared|recent)|popular\s+(?:on|in|now|stories)
       |trending(?:\s+(?:now|stories|on))?|top\s+stories|editor'?s\s+picks?)\b[^.!?]{0,60}$
    | (?:order|buy)\s+reprints?\b | print\s+(?:this\s+)?(?:article|story|page)\s*$
    | (?:there\s+was\s+an|an)\s+error\s+(?:has\s+)?occurr?ed | there\s+was\s+an\s+error\s+processing
    | (?:print|email|share)\s*(?:this\s+article)?\s*$
    | (?:lesen\s+sie\s+(?:auch|mehr)|mehr\s+zum\s+thema|weiterlesen|das\s+könnte\s+sie\s+auch\s+interessieren
       |anzeige\s*$|teilen\s*$|newsletter\s+abonnieren|kommentare?\s*(?:\(\d+\))?\s*$|foto\s*:\s|bild\s*:\s)
    | (?:à\s+lire\s+aussi|lire\s+aussi|lire\s+la\s+suite|voir\s+aussi|à\s+voir\s+aussi|partager\s*$|abonnez-vous
       |publicité\s*$|laisser\s+un\s+commentaire|crédit\s+photo|sur\s+le\s+même\s+sujet)
    | (?:lee\s+también|leer\s+más|te\s+puede\s+interesar|noticias\s+relacionadas|compartir\s*$|suscríbete
       |publicidad\s*$|deja\s+un\s+comentario|también\s+te\s+puede\s+interesar)
    | (?:leia\s+(?:também|mais)|veja\s+(?:também|mais)|tempo\s+de\s+leitura|compartilhe|comentários\s*$
       |deixe\s+(?:um|seu)\s+comentário|saiba\s+mais\s*$)
    | (?:leggi\s+anche|\(leggi\s+anche|potrebbe\s+interessarti|condividi\s*$|lascia\s+un\s+commento)
    )""",
    re.IGNORECASE | re.VERBOSE,
)

# Short lines that are junk when they make up the whole line.
_WHOLE = re.compile(
    r"""^\W*(?:
      \d*\s*comments?|comments?\s*\(?\d*\)?|no\s+comments?(?:\s+yet)?|\d+\s+responses?
    | advertisement|sponsored(?:\s+content)?|promoted|ad
    | share|tweet|email|print|pin\s+it|whatsapp|facebook|twitter|linkedin|reddit|pinterest|flipboard
    | close|menu|search|home|next|previous|prev|more|top|loading\.*|toggle\s+navigation
    | \[?\s*(?:video|photos?|gallery|audio|watch|listen)\s*\]?
    | thank\s+you|sorry!?
    | tags?|topics?|categories|categorias|categorías|catégories|schlagwörter|themen|etiquetas|étiquettes
    | order\s+reprints|reprints|print\s+article
    )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)

# Photo credits such as "Alexander Zemlianichenko/Pool via" or "(AP Photo/Evan Vucci)".
_CREDIT = re.compile(
    r"""(?:
      /\s*(?:pool|ap|afp|reuters|epa|efe|getty(?:\s+images)?|bloomberg|ansa|dpa|sipa|zuma|shutterstock|xinhua|tass|anadolu|reuters\s+pool|ap\s+pool|pa|pa\s+wire)\b
    | \b(?:via|through)\s*(?:getty(?:\s+images)?|reuters|ap|afp)?\s*\)?\s*$
    | \b(?:ap|afp|getty|reuters)\s+(?:photo|images?)\b
    | \bgetty\s+images\b | \bshutterstock\b | \bistock(?:photo)?\b
    | ^\(?\s*(?:photo|image|picture|foto|bild|crédit|credit)s?\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)

_CLOCK = re.compile(r"\b\d{1,2}:\d{2}\b")
_DATE_PART = re.compile(r"\b(?:19|20)\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b")
_TIMESTAMP = re.compile(
    r"""^\W*(?:
      \d{4}-\d{2}-\d{2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:z|[+-]\d{2}:?\d{2})?)?
    | \d{1,2}[./]\d{1,2}[./]\d{2,4}(?:,?\s+\d{1,2}:\d{2}(?:\s*[ap]\.?m\.?)?)?
    | (?:\w+,?\s+)?\w+\.?\s+\d{1,2},?\s+\d{4}(?:,?\s+(?:at\s+)?\d{1,2}:\d{2}\s*(?:[ap]\.?m\.?)?(?:\s+[a-z]{2,4})?)?
    | \d{1,2}:\d{2}\s*(?:[ap]\.?m\.?)?(?:\s+[a-z]{2,4})?
    )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)

_BYLINE = re.compile(
    r"^(?i:by|von|par|por|di|door|av)\s+[A-ZÀ-Ý][\w.'-]+(?:\s+[A-ZÀ-Ý][\w.'-]+){0,3}(?:\s*(?:,|and|&|und|et|y|e)\s*[A-ZÀ-Ý][\w.'-]+(?:\s+[A-ZÀ-Ý][\w.'-]+){0,3})*\s*(?:[,|–—-].{0,60})?$"
)

_CONTRIBUTED = re.compile(
    r"\b(?:contributed\s+(?:reporting\s+)?to\s+this\s+(?:report|story|article)|contributed\s+reporting|contributed\s+to\s+this\s+report)\b",
    re.IGNORECASE,
)

# Newsletter boxes, affiliate disclosures, comment-moderation notices, "[VIDEO]"-tagged link lines.
_PROMO = re.compile(
    r"""(?:
      \b(?:newsletters?|inbox)\b.{0,120}\b(?:sign(?:ing)?\s+up|subscrib\w*|delivered)\b
    | \b(?:sign(?:ing)?\s+up|subscrib\w*|delivered)\b.{0,120}\b(?:newsletters?|inbox)\b
    | \b(?:earn|get|receive|make)s?\s+(?:a\s+)?(?:small\s+)?(?:commission|share\s+of\s+(?:the\s+)?(?:sale|revenue))
    | \baffiliate\s+(?:links?|commission)
    | \bad[\s-]?block(?:er|ing)?s?\b | \bturn\s+off\s+your\s+ad | \brely\s+on\s+advertising\b
    | \b(?:comments?|comentários|comentarios|kommentare|commentaires|commenti)\b.{0,120}
      \b(?:moderat\w*|aprovad\w*|approved|freigeschaltet|policy|guidelines)
    | (?-i:\[[A-Z]{3,}(?:\s[A-Z]{3,})?\])\s*\|?\s*$
    )""",
    re.VERBOSE | re.IGNORECASE,
)
_COPYRIGHT = re.compile(
    r"[©ⓒ]|\(c\)\s*\d{4}|無斷轉載|무단\s*전재|版权所有|著作権|all\s+rights\s+reserved",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_CAPTION_CREDIT = re.compile(
    r"\((?:photo|credit|image|foto|picture)s?\s*(?:credit)?\s*:|\bphotos?\s+©|©\s*[A-Z]",
    re.IGNORECASE,
)

_TRUNCATION_MARKER = re.compile(r"\s*(?:\[\+\d+\s*chars?\]|\(\d+\s*chars?\)|\[\.\.\.\]|\[…\])\s*$")
_ELLIPSIS_END = re.compile(r"(?:\.\.\.|…)\s*[\"'”’)\]]?\s*$")
_SENTENCE_END = re.compile(r"[.!?。！？]\s*(?:\.\.\.|…)\s*$")


def word_count(line: str) -> int:
    """Return the number of ``\\w+`` tokens, the unit every length rule uses."""
    return len(_WORD.findall(line))


def is_timestamp(line: str) -> bool:
    """Return True for a line that is only a date and/or time, in any language.

    Besides the English shapes, a short unpunctuated line holding both a date (a year or
    d/m/y) and a clock time is a dateline whatever its words ("sexta-feira, 22 de outubro
    de 2010 às 20:13").
    """
    if len(line) > 80:
        return False
    if len(line) <= 60 and _TIMESTAMP.match(line):
        return True
    return (
        word_count(line) <= 10
        and not line.rstrip().endswith(".")
        and bool(_CLOCK.search(line))
        and bool(_DATE_PART.search(line))
    )


def junk_reason(line: str) -> str | None:
    """Return why ``line`` is boilerplate (a reason code), or ``None`` if it may be story text.

    Long lines are only dropped for prompt phrases at their start, so a story
    sentence that merely mentions "newsletter" or "comments" is kept.
    """
    stripped = line.strip()
    if not stripped:
        return None
    words = word_count(stripped)
    if words == 0:
        return "no_words"
    if _WHOLE.match(stripped):
        return "ui_label"
    if words <= 40 and _PREFIX.match(stripped):
        return "prompt"
    if (
        words <= 14
        and _CREDIT.search(stripped)
        and not stripped.endswith((".", "!", "?", '"', "”"))
    ):
        return "photo_credit"
    if words <= 60 and _PROMO.search(stripped):
        return "promo"
    if words <= 40 and _CAPTION_CREDIT.search(stripped):
        return "caption"
    if words <= 30 and _COPYRIGHT.search(stripped):
        return "copyright"
    if words <= 8 and _EMAIL.search(stripped):
        return "contact"
    if is_timestamp(stripped):
        return "timestamp"
    if words <= 25 and _CONTRIBUTED.search(stripped):
        return "credit_line"
    if words <= 12 and _BYLINE.match(stripped):
        return "byline"
    # Short all-caps lines are subheadings; long ones are promoted headlines of other stories.
    if words >= _SHOUTING_MIN_WORDS and not stripped.endswith("?") and _is_shouting(stripped):
        return "all_caps"
    return None


def _is_shouting(line: str) -> bool:
    """Return True when nearly every cased letter is upper case (promo headlines)."""
    upper = lower = 0
    for char in line:
        if char.isupper():
            upper += 1
        elif char.islower():
            lower += 1
    return upper >= 12 and lower <= upper * 0.08


def caption_echo(caption: str, line: str) -> bool:
    """Return True when ``line`` repeats most words of a dropped ``caption`` (long caption form)."""
    a = {w.casefold() for w in _WORD.findall(caption)}
    b = {w.casefold() for w in _WORD.findall(line)}
    if len(a) < 4 or not b:
        return False
    return len(a & b) / len(a) >= 0.7 and word_count(line) <= 3 * len(a)


def strip_truncation_marker(text: str) -> tuple[str, bool]:
    """Remove a feed's "[+1234 chars]" style tail; return the text and whether one was found."""
    match = _TRUNCATION_MARKER.search(text)
    if match is None:
        return text, False
    return text[: match.start()].rstrip(), True


def looks_truncated(text: str) -> bool:
    """Return True when ``text`` stops on an ellipsis (a teaser or a cut feed body).

    An ellipsis right after a full stop ("... the end. ...") is still a cut; one
    closing a quoted sentence in the middle of the text is not our concern here.
    """
    tail = text.rstrip()[-200:]
    return bool(_ELLIPSIS_END.search(tail) or _SENTENCE_END.search(tail))

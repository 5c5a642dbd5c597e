"""Plain text as crawlers send it: junk lines go, every story sentence stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cleaning import SHORT_MAX_CHARS, clean
from pipeline.models import Article

SEED_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "seed-articles"

STORY = [
    "Harbour officials in Lowport said on Tuesday that the new ferry terminal will open in March, two years later than planned.",
    "The delay was caused by a dispute over the design of the sea wall, according to a report seen by the council.",
    "“We are confident the terminal will be worth the wait,” said Mara Quell, who chairs the harbour board.",
    "Passenger numbers on the existing route have fallen by a fifth since 2021.",
]

JUNK_PAGE = "\n\n".join(
    [
        "Local News",
        "Lowport ferry terminal delayed until March",
        "Lowport ferry terminal delayed until March",
        STORY[0],
        STORY[1],
        "FILE PHOTO: A ferry leaves Lowport harbour at dawn\nA ferry leaves Lowport harbour at dawn, in Lowport, May 2, 2022.",
        "Jan Okafor/Pool via",
        STORY[2],
        "Related Articles",
        STORY[3],
        "Read more: Lowport council approves new budget",
        "Leave a Reply",
        "Your email address will not be published. Required fields are marked *",
        "Back to top button",
        "2023-09-04 13:40:41",
        "Link from www.example.com",
        "Exit mobile version",
        "Share this article",
        "Lesen Sie auch: Neue Fähre für Lowport",
        "À lire aussi : le port de Lowport",
        "Lee también: el puerto de Lowport",
        "Sign up for our daily newsletter",
    ]
)


def _clean_text(text: str, title: str | None = None) -> tuple[str, str | None, bool]:
    cleaned = clean(
        Article(url="https://news.example/a", text=text, title=title), max_bytes=1_000_000
    )
    assert cleaned.text_source == "text"
    assert cleaned.content_type == ("short" if len(cleaned.text) <= SHORT_MAX_CHARS else "text")
    return cleaned.text, cleaned.title, cleaned.truncated


def test_every_story_sentence_is_kept_and_in_order() -> None:
    text, _, _ = _clean_text(JUNK_PAGE)
    assert text.split("\n\n") == STORY


def test_junk_lines_are_dropped() -> None:
    text, _, _ = _clean_text(JUNK_PAGE)
    for junk in (
        "Local News",
        "FILE PHOTO",
        "Pool via",
        "Related",
        "Read more",
        "Leave a Reply",
        "email address",
        "Back to top",
        "2023-09-04",
        "Link from",
        "Exit mobile",
        "Share this",
        "Lesen Sie",
        "lire aussi",
        "Lee también",
        "newsletter",
        "May 2, 2022",
    ):
        assert junk not in text, junk


def test_title_at_the_top_becomes_the_title() -> None:
    _, title, _ = _clean_text(JUNK_PAGE)
    assert title == "Lowport ferry terminal delayed until March"


def test_given_title_is_removed_from_the_top_and_kept_as_title() -> None:
    text, title, _ = _clean_text(
        "World News\n\nFerry delayed\n\n" + STORY[0], title="Ferry delayed"
    )
    assert title == "Ferry delayed"
    assert text == STORY[0]


@pytest.mark.parametrize(
    "ending",
    [
        "stopped previous cooperation between the two ports and…",
        "stopped previous cooperation between the two ports and...",
        "stopped previous cooperation. [+2412 chars]",
    ],
)
def test_body_that_stops_on_an_ellipsis_is_truncated(ending: str) -> None:
    text, _, truncated = _clean_text(STORY[0] + "\n\nOfficials say " + ending)
    assert truncated
    assert "chars]" not in text


def test_complete_body_is_not_truncated() -> None:
    _, _, truncated = _clean_text("\n\n".join(STORY))
    assert not truncated


def test_story_sentences_mentioning_junk_words_are_kept() -> None:
    sentences = [
        "The council said readers who sign up for the consultation can leave comments until Friday.",
        "Copies of the report were shared with the press on Monday, officials said.",
    ]
    text, _, _ = _clean_text("\n\n".join(sentences))
    assert text.split("\n\n") == sentences


def test_normalises_unicode_mojibake_and_whitespace() -> None:
    broken = "The caf\u00c3\u00a9 on the quay   reopened\t on Monday after repairs, the owner said."
    text, _, _ = _clean_text(
        broken + "\r\n\r\n\r\n\r\nA second   paragraph follows here, as it should."
    )
    assert text == (
        "The café on the quay reopened on Monday after repairs, the owner said."
        "\n\nA second paragraph follows here, as it should."
    )
    decomposed = "Re\u0301sume\u0301 of the mayor was published on Monday by the town hall."
    text, _, _ = _clean_text(decomposed)
    assert text.startswith("Résumé")


SEED_JUNK = {
    "cbs-kim-putin.txt": [
        "World News",
        "FILE PHOTO",
        "pose for a photo during their meeting in Vladivostok",
        "Alexander Zemlianichenko/Pool via",
        "Related Articles",
        "Leave a Reply",
        "Your email address will not be published",
        "Back to top button",
    ],
    "nyt-kim-putin.txt": [
        "2023-09-04 13:40:41",
        "Link from www.nytimes.com",
        "Exit mobile version",
    ],
}


@pytest.mark.skipif(not SEED_DIR.is_dir(), reason="shared seed articles not available")
@pytest.mark.parametrize("name", sorted(SEED_JUNK))
def test_seed_article_loses_every_junk_line_and_keeps_every_story_line(name: str) -> None:
    raw = (SEED_DIR / name).read_text(encoding="utf-8")
    cleaned = clean(Article(url="https://news.example/seed", text=raw), max_bytes=1_000_000)
    for junk in SEED_JUNK[name]:
        assert junk not in cleaned.text, junk
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    title = lines[1] if name.startswith("cbs") else lines[0]
    assert cleaned.title == title
    assert title not in cleaned.text
    story = [
        line for line in lines if len(line.split()) >= 12 and not line.startswith("FILE PHOTO")
    ]
    story = [
        line
        for line in story
        if line != title and not any(junk in line for junk in SEED_JUNK[name])
    ]
    assert story, "the seed article should have story lines"
    for line in story:
        assert line in cleaned.text, line
    assert cleaned.truncated is name.startswith("nyt")


@pytest.mark.parametrize(
    "paragraphs",
    [
        [  # Thai: no spaces between words, no closing punctuation
            "นายกรัฐมนตรีเดินทางเยือนญี่ปุ่นเพื่อหารือความร่วมมือด้านเศรษฐกิจและการค้าระหว่างสองประเทศในสัปดาห์นี้",
            "การประชุมครั้งนี้คาดว่าจะมีการลงนามข้อตกลงหลายฉบับเกี่ยวกับการลงทุนและเทคโนโลยีใหม่",
        ],
        [
            "总理本周访问日本，讨论两国经济和贸易合作。",
            "预计此次会议将签署多项关于投资和新技术的协议。",
        ],
        [
            "Le Premier ministre s'est rendu lundi au Japon pour discuter de la coopération économique.",
            "Plusieurs accords sur l'investissement devraient être signés pendant la visite.",
        ],
    ],
)
def test_scripts_without_spaces_and_other_languages_keep_every_paragraph(
    paragraphs: list[str],
) -> None:
    text, _, _ = _clean_text("\n\n".join(paragraphs))
    assert text.split("\n\n") == paragraphs


def test_cyrillic_read_as_windows_1251_is_repaired() -> None:
    sentence = "Правительство объявило о новых мерах поддержки фермеров в понедельник."
    text, _, _ = _clean_text(sentence.encode("utf-8").decode("cp1251"))
    assert text == sentence
    text, _, _ = _clean_text(sentence)  # correct Cyrillic is left alone
    assert text == sentence

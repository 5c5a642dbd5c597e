"""Language identification: codes, titles, the declared-language prior, und, hostile input."""

from __future__ import annotations

import threading

import pytest

from pipeline.language import detect, normalize_code
from pipeline.language.backends import SUPPORTED, get_backends
from pipeline.models import Language


def _valid(result: Language) -> None:
    assert result.code == "und" or result.code in SUPPORTED
    assert 0.0 <= result.confidence <= 1.0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The city council approved the new budget after a long debate on Tuesday night.", "en"),
        (
            "Der Stadtrat hat nach langer Debatte am Dienstagabend den neuen Haushalt beschlossen.",
            "de",
        ),
        ("Le conseil municipal a adopté mardi soir le nouveau budget après un long débat.", "fr"),
        (
            "El ayuntamiento aprobó el martes por la noche el nuevo presupuesto tras un largo debate.",
            "es",
        ),
        ("Городской совет во вторник вечером утвердил новый бюджет после долгих споров.", "ru"),
        ("市议会周二晚上经过长时间辩论后批准了新的预算。", "zh"),
        ("市議会は火曜日の夜、長い議論の末に新しい予算を承認しました。", "ja"),
        ("Το δημοτικό συμβούλιο ενέκρινε τον νέο προϋπολογισμό την Τρίτη το βράδυ.", "el"),
    ],
)
def test_detects_sentences(text: str, code: str) -> None:
    result = detect(text)
    assert result.code == code
    assert result.detected == code
    assert result.confidence > 0.5


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("Regierung beschließt neues Klimagesetz", "de"),
        ("Le gouvernement annonce un plan", "fr"),
        ("Премьер-министр ушёл в отставку", "ru"),
        ("Parlamento aprova reforma da previdência", "pt"),
    ],
)
def test_detects_short_titles_without_body(title: str, code: str) -> None:
    assert detect("", title=title).code == code


def test_han_without_kana_is_chinese() -> None:
    assert detect("中国 人民").code == "zh"


@pytest.mark.parametrize(
    ("declared", "code"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("eng", "en"),
        ("fre", "fr"),
        ("fra", "fr"),
        ("zh-Hant-TW", "zh"),
        ("no", "nb"),
        ("nob", "nb"),
        ("nno", "nn"),
        ("iw", "he"),
        ("fil", "tl"),
        (" de ", "de"),
        ("", None),
        (None, None),
        ("xx", None),
        ("klingon", None),
        ("e\x00n", None),
        ("1234", None),
        ("en" * 100, None),
    ],
)
def test_normalizes_declared_language(declared: str | None, code: str | None) -> None:
    assert normalize_code(declared) == code


def test_declared_language_is_recorded_normalized() -> None:
    result = detect("The minister resigned on Friday after weeks of pressure.", declared="en-US")
    assert (result.code, result.declared, result.detected) == ("en", "en", "en")


def test_confident_detection_overrules_declared_language() -> None:
    result = detect(
        "The committee will publish its final report on the regional budget next week.",
        declared="de",
    )
    assert result.code == "en"
    assert result.declared == "de"


def test_declared_language_decides_between_close_languages() -> None:
    # Norwegian Bokmål and Danish spell this phrase the same way.
    text = "Hvordan går det"
    assert detect(text, declared="nb").code == "nb"
    assert detect(text, declared="da").code == "da"


def test_declared_language_wins_within_a_close_group_and_detection_is_kept() -> None:
    text = "saya makan nasi goreng"
    plain = detect(text)
    assert plain.code in {"id", "ms"}
    other = "ms" if plain.code == "id" else "id"
    result = detect(text, declared=other)
    assert (result.code, result.declared, result.detected) == (other, other, plain.code)


def test_declared_language_raises_confidence_of_agreeing_guess() -> None:
    text = "bagaimana dengan kereta"
    plain = detect(text)
    backed = detect(text, declared=plain.code)
    assert backed.code == plain.code
    assert backed.confidence > plain.confidence


def test_unknown_declared_language_is_ignored() -> None:
    result = detect("Le conseil municipal a adopté le budget.", declared="not-a-language")
    assert result.code == "fr"
    assert result.declared is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "x",
        "12345 67 890",
        "!!! ??? ...",
        "🙂🙂🙂 👍",
        "Dow 35,000 +1.2% (S&P 4,500)",
    ],
)
def test_und_when_nothing_to_tell(text: str) -> None:
    result = detect(text)
    assert result.code == "und"
    assert result.confidence == 0.0


def test_und_when_too_mixed() -> None:
    text = (
        "The government announced a new plan for the economy today and markets reacted. "
        "Le gouvernement a annoncé aujourd'hui un nouveau plan pour l'économie. "
        "Die Regierung hat heute einen neuen Plan für die Wirtschaft angekündigt. "
        "El gobierno anunció hoy un nuevo plan para la economía y los mercados reaccionaron."
    )
    result = detect(text)
    assert result.code == "und"
    assert result.detected in {"en", "fr", "de", "es"}


def test_title_and_body_are_combined() -> None:
    result = detect("Die Märkte reagierten am Morgen gelassen.", title="Zinsentscheid der EZB")
    assert result.code == "de"


@pytest.mark.parametrize(
    "text",
    [
        "Lorem ipsum dolor " * 500_000,  # ~9 MB
        "\x00\x01\x02\x03 abc \x7f\x80\x9f def",
        "\ud800\udfff broken surrogates \udc80 here",
        bytes(range(256)).decode("latin-1") * 50,
        "\u202e\u200f\u200b\ufeff text with bidi and zero-width marks",
        "a" * 1_000_000,
        "\n" * 100_000 + "Ein Satz auf Deutsch ganz am Ende.",
        "\ue000\uf8ff private use \U0010fffd",
    ],
)
def test_hostile_input_never_crashes(text: str) -> None:
    _valid(detect(text, title=text[:1000], declared=text[:50]))


def test_non_string_title_and_declared_are_tolerated() -> None:
    _valid(detect("Un texte en français.", title=None, declared=None))
    _valid(detect("Un texte en français.", title=b"bytes", declared=["fr"]))  # type: ignore[arg-type]


def test_backends_load_once_per_process() -> None:
    first = get_backends()
    found: list[object] = []
    threads = [threading.Thread(target=lambda: found.append(get_backends())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(backend is first for backend in found)


def test_concurrent_detection_is_consistent() -> None:
    texts = {
        "Der Stadtrat hat den Haushalt beschlossen.": "de",
        "Saya makan nasi goreng di rumah bersama keluarga.": detect(
            "Saya makan nasi goreng di rumah bersama keluarga."
        ).code,
        "kundene kompensasjon": detect("kundene kompensasjon").code,
    }
    errors: list[str] = []

    def work() -> None:
        for _ in range(20):
            for text, code in texts.items():
                got = detect(text).code
                if got != code:
                    errors.append(f"{text!r}: {got} != {code}")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

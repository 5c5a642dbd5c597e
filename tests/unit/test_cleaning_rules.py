"""Line rules shared by the HTML and plain-text cleaners: junk is named, story lines pass."""

from __future__ import annotations

import pytest

from pipeline.cleaning.rules import caption_echo, is_timestamp, junk_reason, looks_truncated

JUNK = [
    "Read more: Council approves the harbour budget",
    "READ MORE",
    "Related: Ferry strike enters third day",
    "[Related: Port workers vote on new contract]",
    "Related Articles",
    "You may also like...",
    "DON'T MISS",
    "Click here to subscribe to our newsletter",
    "Sign up for our morning briefing",
    "Get the latest updates right in your inbox. Subscribe to our newsletters.",
    "Follow us on Twitter and Facebook",
    "Follow Mara Quell on Twitter",
    "Like this story? Share it with a friend!",
    "Share this article",
    "Leave a Reply",
    "Leave a comment",
    "Your email address will not be published. Required fields are marked *",
    "Back to top button",
    "Exit mobile version",
    "Skip to content",
    "Link from www.example.com",
    "Loading comments...",
    "12 comments",
    "Comments",
    "Advertisement",
    "Story continues below advertisement",
    "FILE PHOTO: A ferry leaves the harbour at dawn",
    "Photo: Jan Okafor",
    "Alexander Example/Pool via",
    "(AP Photo/Jane Example)",
    "Jan Okafor/AFP via Getty Images",
    "(Reporting by Jan Okafor; Editing by Mara Quell)",
    "Additional reporting by Tomas Lind",
    "Mara Quell contributed to this report.",
    "By Tomas Lind",
    "By Tomas Lind and Ana Ruiz",
    "2023-09-04 13:40:41",
    "September 4, 2023",
    "Updated: Tue., Nov. 19, 2019",
    "Published 18 November 2019",
    "sexta-feira, 22 de outubro de 2010 às 20:13",
    "Copyright 2024 Example Media. All rights reserved.",
    "© 2024 Example Media",
    "Write to Tomas Lind at tomas.lind@news.example",
    "tomas.lind@news.example",
    "Follow our full coverage of the election at https://news.example/election",
    "Originally published on Example News.",
    "If you enjoyed this article, please consider supporting us.",
    "We may earn a commission from links on this page.",
    "Please turn off your ad blocker to continue reading.",
    "Comments are moderated and approved before they appear.",
    "CLICK HERE TO GET THE EXAMPLE NEWS APP ON YOUR PHONE",
    "Lesen Sie auch: Neue Fähre für Lowport",
    "Mehr zum Thema",
    "À lire aussi : le port de Lowport",
    "Lire la suite",
    "Lee también: el puerto de Lowport",
    "Noticias relacionadas",
    "Leia também: Porto de Lowport reabre",
    "Tempo de leitura: 2 minutos",
    "Leggi anche: il porto di Lowport",
    "Tags",
]

STORY = [
    "The council said readers who sign up for the consultation can leave comments until Friday.",
    "Officials shared the report with the press on Monday, a spokesman said.",
    "By the end of the week the ferry service had resumed, operators said.",
    "Related talks between the unions and the port authority broke down on Tuesday.",
    "The meeting starts at 10:30 on 12 May 2024 in the town hall, the mayor said.",
    "WHO IS THE FRONT-RUNNER?",
    "WHAT YOU NEED TO KNOW",
    "Readers can write to letters@paper.example with their views on the harbour plan and its budget.",
    "Photographers gathered outside the court as the verdict was read.",
    "Von der Leyen said the commission would publish its proposal next month.",
    "Die Regierung will die Fähre im März wieder in Betrieb nehmen.",
    "Le maire a annoncé lundi la réouverture du port.",
    "El gobierno anunció el lunes nuevas medidas para los agricultores.",
    "总理本周访问日本，讨论两国经济和贸易合作。",
]


@pytest.mark.parametrize("line", JUNK)
def test_junk_lines_are_named(line: str) -> None:
    assert junk_reason(line) is not None


@pytest.mark.parametrize("line", STORY)
def test_story_lines_pass(line: str) -> None:
    assert junk_reason(line) is None


def test_timestamps() -> None:
    assert is_timestamp("2023-09-04 13:40:41")
    assert is_timestamp("4:14 p.m.")
    assert not is_timestamp("The vote is on 4 May 2024 at 10:00 in the town hall.")


def test_caption_echo_matches_the_long_form_of_a_caption() -> None:
    caption = "A ferry leaves Lowport harbour at dawn"
    assert caption_echo(caption, "A ferry leaves Lowport harbour at dawn, in Lowport, May 2, 2022.")
    assert not caption_echo(
        caption, "The council approved the budget on Monday after a long debate."
    )


@pytest.mark.parametrize(
    ("text", "truncated"),
    [
        ("Officials said talks would continue and…", True),
        ("Officials said talks would continue and ...", True),
        ("Officials said talks would continue. ...", True),
        ("Officials said talks would continue.", False),
        ("He paused... and then the talks continued into the night.", False),
    ],
)
def test_looks_truncated(text: str, truncated: bool) -> None:
    assert looks_truncated(text) is truncated

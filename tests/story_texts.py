"""Invented news texts for the story event tier: two outlets' reports of one event, and two
different events that share an entity with it (written for the tests, not taken from any page)."""

from __future__ import annotations

import random

__all__ = ["BATTERY_RULES", "FINE_REPORT", "FINE_REWRITE", "KORVATH_RESULTS", "make_article"]

# One event (a cartel fine), reported by one outlet ...
FINE_REPORT = """The European Commission on Tuesday fined the Danish container carrier Korvath Lines 410 million euros for fixing freight rates with two rivals, Halden Maritime and Sorrel Shipping, between 2016 and 2021.

Investigators found that senior managers of the three carriers exchanged planned rate increases for routes between Asia and northern Europe at private dinners in Hamburg and through encrypted messaging apps, according to the Commission's decision.

Halden Maritime received a fine of 212 million euros. Sorrel Shipping escaped a penalty because it alerted the Commission to the cartel under its leniency programme in 2021 and handed over internal emails.

"Shippers and, in the end, consumers paid more for everything that travels in a container," competition commissioner Margrethe Vestager told reporters in Brussels. She said freight customers could now seek damages in national courts.

Korvath Lines said in a statement that it disagreed with the findings and would appeal to the General Court in Luxembourg. Its shares fell 6 percent in Copenhagen. The company, which operates 140 vessels, had set aside 300 million euros for the case last year.

Halden Maritime, based in Oslo, said it accepted the decision and had already changed its compliance procedures."""

# ... and written up independently by another (same facts, own words).
FINE_REWRITE = """Brussels has ordered Korvath Lines to pay a 410 million euro penalty after concluding that the Copenhagen-based shipping group colluded on container freight prices with Halden Maritime and Sorrel Shipping for five years.

According to the European Commission, executives of the carriers met over dinners in Hamburg and swapped messages on encrypted apps to coordinate rate rises on Asia to Europe lanes from 2016 until 2021.

Oslo-based Halden Maritime was fined 212 million euros, while Sorrel Shipping avoided any fine as it had reported the cartel in 2021 under the leniency scheme and supplied internal emails to investigators.

Margrethe Vestager, the competition commissioner, said exporters and consumers had overpaid for goods carried in containers, and that customers harmed by the cartel could claim compensation in national courts.

Korvath Lines rejected the conclusions and said it would challenge the fine before the General Court in Luxembourg. The stock dropped about 6 percent in Copenhagen trading. The group, with a fleet of 140 ships, had made a 300 million euro provision for the investigation.

Halden Maritime said it would not appeal."""

# A different event of the same institution (the European Commission).
BATTERY_RULES = """The European Commission on Tuesday proposed rules that would require makers of smartphones and tablets sold in the bloc to design devices whose batteries owners can replace with ordinary tools by 2028.

The draft regulation also sets a minimum of 800 charging cycles before a battery may lose a fifth of its capacity, and obliges manufacturers to stock spare batteries for seven years after a model leaves the market.

Consumer groups welcomed the plan, saying glued batteries push people to buy new phones long before the rest of the device wears out. The European Consumer Organisation estimated that households could save 150 euros per device over its life.

Industry lobby DigitalEurope warned that replaceable batteries would make phones thicker and less resistant to water and dust, and asked for a longer transition period of five years.

The proposal needs the approval of the European Parliament and of member governments, which could amend it. Officials expect negotiations to last into next year.

Repair shops in France and Germany have already reported rising demand since national rules on repairability scores took effect."""

# A different event of the same company (Korvath Lines), like two stories on one firm in a day.
KORVATH_RESULTS = """Korvath Lines reported a record quarterly profit on Thursday as container freight rates stayed high and the Danish carrier filled its new vessels on routes between Asia and the United States.

Net profit rose to 1.2 billion dollars in the third quarter from 700 million a year earlier, the company said, and revenue climbed 18 percent to 6.4 billion dollars. Analysts had expected a profit of about 950 million.

Chief executive Ingrid Sommerfelt said demand from American retailers restocking before the holiday season had been stronger than planned, and that congestion at ports in California had kept ships busy for longer.

The company raised its forecast for the full year and announced a share buyback of 500 million dollars. Its shares jumped 9 percent in Copenhagen, their biggest gain in two years.

Korvath Lines expects rates to ease next year as shipyards deliver a wave of new ships ordered during the pandemic, and said it would slow its own orders.

Rival Halden Maritime will publish its results next week."""

_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ren",
    "tas",
    "vo",
    "qui",
    "dor",
    "sel",
    "pa",
    "tru",
    "nex",
    "bi",
    "fal",
    "os",
]


def make_article(seed: int, paragraphs: int = 8, words: int = 60) -> str:
    """A deterministic pseudo-article: paragraphs of words from a large made-up vocabulary."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(3000)]
    return "\n\n".join(
        " ".join(rng.choice(vocabulary) for _ in range(words)) + "." for _ in range(paragraphs)
    )

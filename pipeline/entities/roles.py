"""Titles and roles next to a person's name, kept apart from the name.

The Europe Media Monitor finds new names through trigger words: a title or
function (``Defense Minister``, ``Bundeskanzler``, ``spokesman``,
``TV-presentatören``) right before a name says a person follows and is not part
of the name. Here they serve twice: as recogniser features (``is_role``) and to
cut the role off a person mention into its ``role`` (``role_start``).

A word is a role when its folded form, less a short inflection ending
(``-in``, ``-en``, ``-e``, ``-a``, ``-s``, ...), is or ends with a role stem, so
German and Scandinavian compounds (``Bundeskanzlerin``, ``Sonderberaterin``,
``presentatören``) need no list of their own. Stems are at least five letters,
except a handful of whole words (``ceo``, ``rei``).
"""

from __future__ import annotations

from functools import lru_cache

from pipeline.entities.stream import SOFT, TokenStream

__all__ = ["ROLE_MODIFIERS", "is_role", "role_start"]

# Role stems in the news languages (folded: lower case, no diacritics).
_STEMS = frozenset(
    """
    president praesident prasident presidente presidenten presidentti prezident
    minister ministro ministre ministr premier primeiro ministra
    chancellor kanzler kansler canciller chanceler cancelliere chancelier
    spokesman spokeswoman spokesperson sprecher sprecherin talsmand talsperson talesperson
    talskvinde talesmand taleskvinde porta-voz portavoz portavoce porte-parole
    secretary sekretaer sekretar secretario secretaria segretario secretaire sekreterare
    director direktor diretor diretora directeur directora direttore
    chairman chairwoman chairperson vorsitzende vorsitzender ordforande formand formaend
    governor gouverneur governador gobernador governatore guvernor
    mayor buergermeister burgermeister borgmester borgmastare prefeito prefeita alcalde
    alcaldesa sindaco maire
    senator senador senadora senatore senateur
    general generalin generale admiral colonel oberst
    king koenig konig queen koenigin konigin rainha reina reine dronning drottning
    prince prinz principe prinsesse princesse princess
    emperor kaiser imperador emperador empereur
    ambassador botschafter botschafterin embaixador embajador ambasciatore ambassadeur
    ambassador ambassadoer
    commissioner kommissar kommissarin comissario comisario commissario commissaire
    governo
    coach trainer trainerin treinador entrenador allenatore entraineur
    manager managerin
    judge richter richterin juiz juiza juez jueza giudice
    prosecutor staatsanwalt staatsanwaeltin promotor fiscal procuratore procureur
    leader anfuehrer anfuhrer lider leder
    founder gruender grunder fundador fondatore fondateur
    presenter moderator moderatorin apresentador presentador presentatore presentateur
    presentator programleder
    journalist journalistin reporter reporterin correspondent korrespondent
    correspondente corresponsal
    analyst analystin analista
    professor professorin professora professeur professore
    doctor doktor medico
    lawyer anwalt anwaeltin advogado abogado avvocato avocat advokat
    attorney
    adviser advisor berater beraterin assessor asesor consigliere conseiller raadgiver
    radgivare
    executive geschaeftsfuehrer geschaftsfuhrer vorstandschef konzernchef
    chief chef chefe jefe capo
    deputy stellvertreter stellvertreterin vice vize
    candidate kandidat kandidatin candidato candidata candidat
    pope papst papa pape paven
    bishop bischof bispo obispo vescovo eveque biskop
    cardinal kardinal cardeal
    sheikh scheich
    captain kapitaen kapitan capitao capitan capitano capitaine kaptajn kapten
    player spieler jogador jugador giocatore joueur spiller spelare
    striker stuermer sturmer atacante delantero attaccante
    goalkeeper torwart goleiro portero portiere
    singer saenger sanger saengerin cantor cantora cantante chanteur sangerinde
    actor actress schauspieler schauspielerin ator atriz actriz attore attrice acteur actrice
    skuespiller skadespelare
    author autor autorin autora auteur forfatter forfattare
    writer schriftsteller schriftstellerin escritor escritora scrittore ecrivain
    officer offizier oficial ufficiale
    inspector inspektor inspetor
    economist oekonom okonom economista economiste
    scientist wissenschaftler cientista cientifico scienziato
    historian historiker historiador storico historien
    expert experte experto esperto expert
    mediator vermittler
    ombudsman
    envoy gesandte gesandter enviado inviato envoye
    cfo ceo coo cto
    rei rey roi kong kung
    sir herr frau senhor senhora senor senora signor signora monsieur madame
    президент министр премьер канцлер губернатор мэр генерал директор председатель
    представитель пресс-секретарь секретарь посол сенатор глава лидер тренер король
    """.split()
)
_SHORT_WORDS = frozenset("ceo cfo coo cto rei rey roi re kong kung herr frau sir papa".split())
# Inflection endings a role word may carry past its stem (German -in/-innen, Nordic
# definite -en/-et/-n, Romance plural/feminine -a/-es/-s, Russian case -а/-у/-ом ...).
_ENDINGS = ("", "s", "e", "n", "a", "en", "er", "es", "in", "et", "ns", "ens", "innen", "erne")
_ENDINGS += ("а", "у", "ом", "ы", "е")
# Words that sit before a role inside the title (``Foreign Minister``, ``former
# president``, ``vice-chancellor``): kept in the role, never part of the name.
ROLE_MODIFIERS = frozenset(
    """
    former ex acting interim deputy vice prime foreign defense defence interior finance
    economy justice health education labour labor trade energy environment transport
    state federal national regional general chief senior top head lead managing executive
    press communications then new outgoing incoming designate elect assistant associate
    ehemalige ehemaliger fruehere fruherer fruehere amtierende amtierender neue neuer
    stellvertretende stellvertretender
    antigo antiga ex-ministro atual actual novo nova
    tidligere nuvaerende forhenvaerende
    ancien ancienne nouveau nouvelle
    exministro
    бывший новый
    """.split()
)
_MAX_ROLE_WORDS = 4  # a title longer than this is a clause, not a title


@lru_cache(maxsize=65_536)
def is_role(word: str) -> bool:
    """Whether folded ``word`` is a title or role (``minister``, ``bundeskanzlerin``)."""
    if len(word) < 2:
        return False
    if word in _SHORT_WORDS:
        return True
    if len(word) < 5:
        return False
    for ending in _ENDINGS:
        if ending and not word.endswith(ending):
            continue
        base = word[: len(word) - len(ending)] if ending else word
        if len(base) < 5:
            continue
        if base in _STEMS:
            return True
        # a compound ending in a stem: ``bundeskanzler``, ``sonderberater``, ``tvpresentator``
        for cut in range(1, len(base) - 4):
            if base[cut:] in _STEMS and len(base) - cut >= 6:
                return True
    return False


def role_start(stream: TokenStream, i: int, floor: int) -> int | None:
    """Return the first token of the title right before token ``i``, or None when there is none.

    Walks left from ``i - 1`` over soft gaps (never past token ``floor``, the
    sentence start): role words (``Minister``), then their modifiers
    (``Defense``, ``former``, the ``TV`` of ``TV-presentatören``) once a role
    word was seen. A possessive name before the role (``Obamas
    Sonderberaterin``) stays out.
    """
    words, gaps, text = stream.words, stream.gaps, stream.text
    start: int | None = None
    k = i - 1
    seen_role = False
    while k >= floor and i - k <= _MAX_ROLE_WORDS:
        if gaps[k + 1] != SOFT:
            break
        word = words[k]
        if is_role(word):
            seen_role = True
            start = k
        elif seen_role and (
            word in ROLE_MODIFIERS or text[stream.ends[k] : stream.starts[k + 1]] in ("-", "‐", "‑")
        ):
            start = k
        else:
            break
        k -= 1
    return start

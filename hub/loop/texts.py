"""What a follow-up says, per language (en, es, pt; anything else gets English)."""

from dataclasses import dataclass

from hub.loop.models import FollowupKind

LANGUAGES = ("en", "es", "pt")
CSAT_SCORES = (1, 2, 3, 4, 5)
THUMBS_SCORES = (1, 0)


@dataclass(frozen=True, slots=True)
class Texts:
    """The email's and the answer page's words in one language."""

    subject: str
    greeting: str
    question: str
    csat_labels: tuple[str, str, str, str, str]
    thumbs_labels: tuple[str, str]  # 1 (up), 0 (down)
    thanks: str
    comment_label: str
    send: str
    comment_thanks: str
    expired: str
    unknown: str
    bad_score: str
    closing: str


TEXTS = {
    "en": Texts(
        subject="How did we do? (case #{case_id})",
        greeting="Hello{name},",
        question="We have closed your case #{case_id}. Did we solve your problem well?",
        csat_labels=("Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"),
        thumbs_labels=("👍 Yes", "👎 No"),
        thanks="Thank you: your answer is saved.",
        comment_label="Anything to add? (optional)",
        send="Send",
        comment_thanks="Thank you: your comment is saved.",
        expired="This link has expired. Thank you for your time all the same.",
        unknown="This link is not valid. Please use the link in the email we sent you.",
        bad_score="Please choose one of the answers below.",
        closing="One click is enough; the link works until {expires}.",
    ),
    "es": Texts(
        subject="¿Cómo lo hicimos? (caso #{case_id})",
        greeting="Hola{name}:",
        question="Hemos cerrado tu caso #{case_id}. ¿Resolvimos bien tu problema?",
        csat_labels=("Muy insatisfecho", "Insatisfecho", "Neutral", "Satisfecho", "Muy satisfecho"),
        thumbs_labels=("👍 Sí", "👎 No"),
        thanks="Gracias: hemos guardado tu respuesta.",
        comment_label="¿Algo que añadir? (opcional)",
        send="Enviar",
        comment_thanks="Gracias: hemos guardado tu comentario.",
        expired="Este enlace ha caducado. Gracias de todos modos por tu tiempo.",
        unknown="Este enlace no es válido. Usa el enlace del correo que te enviamos.",
        bad_score="Elige una de las respuestas de abajo.",
        closing="Basta un clic; el enlace funciona hasta el {expires}.",
    ),
    "pt": Texts(
        subject="Como nos saímos? (caso #{case_id})",
        greeting="Olá{name},",
        question="Encerramos o seu caso #{case_id}. Resolvemos bem o seu problema?",
        csat_labels=(
            "Muito insatisfeito",
            "Insatisfeito",
            "Neutro",
            "Satisfeito",
            "Muito satisfeito",
        ),
        thumbs_labels=("👍 Sim", "👎 Não"),
        thanks="Obrigado: a sua resposta foi guardada.",
        comment_label="Algo a acrescentar? (opcional)",
        send="Enviar",
        comment_thanks="Obrigado: o seu comentário foi guardado.",
        expired="Este link expirou. Obrigado pelo seu tempo, de qualquer forma.",
        unknown="Este link não é válido. Use o link do e-mail que enviamos.",
        bad_score="Escolha uma das respostas abaixo.",
        closing="Basta um clique; o link funciona até {expires}.",
    ),
}


def language_of(code: str | None) -> str:
    """The follow-up language for a feedback language code: en, es or pt."""
    short = (code or "").split("-")[0].lower()
    return short if short in LANGUAGES else "en"


def choices(kind: FollowupKind, language: str) -> list[tuple[int, str]]:
    """The answers a follow-up offers, as (score, label), best first for thumbs."""
    texts = TEXTS[language]
    if kind == FollowupKind.thumbs:
        return list(zip(THUMBS_SCORES, texts.thumbs_labels, strict=True))
    return list(zip(CSAT_SCORES, texts.csat_labels, strict=True))


def email_text(
    *, kind: FollowupKind, language: str, case_id: int, name: str | None, link: str, expires: str
) -> tuple[str, str]:
    """The email's subject and plain-text body, one answer link per line."""
    texts = TEXTS[language]
    lines = [
        texts.greeting.format(name=f" {name}" if name else ""),
        "",
        texts.question.format(case_id=case_id),
        "",
        *(f"{label}: {link}?score={score}" for score, label in choices(kind, language)),
        "",
        texts.closing.format(expires=expires),
    ]
    return texts.subject.format(case_id=case_id), "\n".join(lines)

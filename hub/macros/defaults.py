"""The reply templates seeded on first start, and the words used when a placeholder is unknown."""

# language -> what a placeholder reads as when the case does not know it.
FALLBACKS = {
    "en": {"customer_name": "there", "agent_name": "the support team", "team": "Support"},
    "es": {"customer_name": "cliente", "agent_name": "el equipo de soporte", "team": "Soporte"},
    "pt": {"customer_name": "cliente", "agent_name": "a equipe de suporte", "team": "Suporte"},
    "fr": {"customer_name": "cliente, client", "agent_name": "l'équipe support", "team": "Support"},
    "de": {"customer_name": "Kundin, Kunde", "agent_name": "das Support-Team", "team": "Support"},
}

APOLOGY = "Apology and offer"
LOOKING = "We're looking into it"
FIXED = "Fixed, please confirm"

# (name, language, subject, body)
DEFAULT_MACROS = [
    (APOLOGY, "en", "We're sorry, and here is what we'll do (case {case_id})",
     "Hi {customer_name},\n\nThank you for telling us, and I'm sorry: this is not the experience "
     "we want you to have. I have looked into it and we will make it right. As an apology, we "
     "would like to offer you a credit on your next invoice; reply to this message and I will "
     "apply it.\n\nBest regards,\n{agent_name}\n{team}"),
    (APOLOGY, "es", "Lo sentimos, y esto es lo que haremos (caso {case_id})",
     "Hola, {customer_name}:\n\nGracias por contárnoslo, y lo siento: no es la experiencia que "
     "queremos que tenga. Lo he revisado y lo vamos a solucionar. Como disculpa, queremos "
     "ofrecerle un crédito en su próxima factura; responda a este mensaje y lo aplicaré.\n\n"
     "Un saludo,\n{agent_name}\n{team}"),
    (APOLOGY, "pt", "Pedimos desculpas, e isto é o que vamos fazer (caso {case_id})",
     "Olá, {customer_name},\n\nObrigado por nos contar, e peço desculpas: esta não é a "
     "experiência que queremos para você. Verifiquei o ocorrido e vamos resolver. Como "
     "desculpas, queremos oferecer um crédito na sua próxima fatura; responda a esta mensagem "
     "e eu o aplicarei.\n\nAtenciosamente,\n{agent_name}\n{team}"),
    (LOOKING, "en", "We're looking into it (case {case_id})",
     "Hi {customer_name},\n\nThanks for your message. We are looking into it now and will get "
     "back to you as soon as we know more.\n\nBest regards,\n{agent_name}\n{team}"),
    (LOOKING, "es", "Lo estamos revisando (caso {case_id})",
     "Hola, {customer_name}:\n\nGracias por su mensaje. Ya lo estamos revisando y le "
     "responderemos en cuanto sepamos más.\n\nUn saludo,\n{agent_name}\n{team}"),
    (LOOKING, "pt", "Estamos verificando (caso {case_id})",
     "Olá, {customer_name},\n\nObrigado pela sua mensagem. Já estamos verificando e voltaremos "
     "a falar com você assim que soubermos mais.\n\nAtenciosamente,\n{agent_name}\n{team}"),
    (FIXED, "en", "Fixed: can you confirm? (case {case_id})",
     "Hi {customer_name},\n\nGood news: we have fixed the problem you reported. Could you check "
     "that everything works for you now? Just reply to this message either way.\n\n"
     "Best regards,\n{agent_name}\n{team}"),
    (FIXED, "es", "Solucionado: ¿puede confirmarlo? (caso {case_id})",
     "Hola, {customer_name}:\n\nBuenas noticias: hemos solucionado el problema que nos indicó. "
     "¿Puede comprobar que ahora todo funciona bien? Responda a este mensaje en cualquier "
     "caso.\n\nUn saludo,\n{agent_name}\n{team}"),
    (FIXED, "pt", "Resolvido: pode confirmar? (caso {case_id})",
     "Olá, {customer_name},\n\nBoas notícias: resolvemos o problema que você relatou. Pode "
     "verificar se agora está tudo certo? Responda a esta mensagem em qualquer caso.\n\n"
     "Atenciosamente,\n{agent_name}\n{team}"),
]  # fmt: skip

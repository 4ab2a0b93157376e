"""Error messages in the caller's language: `Accept-Language` (the seed: "the preferred
language to use for error messages. Defaults to en-US").

en-US, de, fr and es are served; a request for any other language, or none, gets en-US. A
language range matches by its primary subtag (`de-AT` gets de, `en-GB` en-US), in the order
of its q-values (RFC 9110 section 12.5.4); `q=0` refuses a language.
"""

from __future__ import annotations

DEFAULT = "en-US"
LANGUAGES = ("en-US", "de", "fr", "es")
_PRIMARY = {"en": "en-US", "de": "de", "fr": "fr", "es": "es"}

# The English texts are the seed's own wording where it has one.
MESSAGES: dict[str, dict[str, str]] = {
    "bad_request": {
        "en-US": "Bad Request - The request was not understood by the push server.",
        "de": "Ungültige Anforderung - Der Push-Server hat die Anforderung nicht verstanden.",
        "fr": "Requête incorrecte - Le serveur push n'a pas compris la requête.",
        "es": "Solicitud incorrecta - El servidor push no ha entendido la solicitud.",
    },
    "invalid_json": {
        "en-US": "Bad Request - The request body is not valid JSON.",
        "de": "Ungültige Anforderung - Der Anforderungstext ist kein gültiges JSON.",
        "fr": "Requête incorrecte - Le corps de la requête n'est pas un JSON valide.",
        "es": "Solicitud incorrecta - El cuerpo de la solicitud no es un JSON válido.",
    },
    "invalid_field": {
        "en-US": "Bad Request - The value of {field} is not valid.",
        "de": "Ungültige Anforderung - Der Wert von {field} ist ungültig.",
        "fr": "Requête incorrecte - La valeur de {field} n'est pas valide.",
        "es": "Solicitud incorrecta - El valor de {field} no es válido.",
    },
    "missing_field": {
        "en-US": "Bad Request - {field} is required.",
        "de": "Ungültige Anforderung - {field} ist erforderlich.",
        "fr": "Requête incorrecte - {field} est obligatoire.",
        "es": "Solicitud incorrecta - {field} es obligatorio.",
    },
    "invalid_filter": {
        "en-US": "Bad Request - The filter is not valid.",
        "de": "Ungültige Anforderung - Der Filter ist ungültig.",
        "fr": "Requête incorrecte - Le filtre n'est pas valide.",
        "es": "Solicitud incorrecta - El filtro no es válido.",
    },
    "user_too_long": {
        "en-US": "A device registration has userId longer than 254 characters.",
        "de": "Eine Geräteregistrierung hat eine userId mit mehr als 254 Zeichen.",
        "fr": "Un enregistrement d'appareil a un userId de plus de 254 caractères.",
        "es": "Un registro de dispositivo tiene un userId de más de 254 caracteres.",
    },
    "app_disabled": {
        "en-US": "Bad Request - The application is disabled.",
        "de": "Ungültige Anforderung - Die Anwendung ist deaktiviert.",
        "fr": "Requête incorrecte - L'application est désactivée.",
        "es": "Solicitud incorrecta - La aplicación está desactivada.",
    },
    "unauthorized": {
        "en-US": "Unauthorized - The caller is either not authenticated or not authorized "
        "to make this request.",
        "de": "Nicht autorisiert - Der Aufrufer ist nicht authentifiziert oder nicht "
        "berechtigt, diese Anforderung zu stellen.",
        "fr": "Non autorisé - L'appelant n'est pas authentifié ou n'est pas autorisé à "
        "effectuer cette requête.",
        "es": "No autorizado - El llamante no está autenticado o no está autorizado para "
        "realizar esta solicitud.",
    },
    "too_many_requests": {
        "en-US": "Too Many Requests - Retry after the number of seconds in Retry-After.",
        "de": "Zu viele Anforderungen - Wiederholen Sie nach den Sekunden in Retry-After.",
        "fr": "Trop de requêtes - Réessayez après le nombre de secondes de Retry-After.",
        "es": "Demasiadas solicitudes - Reintente tras los segundos indicados en Retry-After.",
    },
    "device_not_found": {
        "en-US": "A device registration with the specified deviceId is not found.",
        "de": "Eine Geräteregistrierung mit der angegebenen deviceId wurde nicht gefunden.",
        "fr": "Aucun enregistrement d'appareil avec le deviceId indiqué n'a été trouvé.",
        "es": "No se ha encontrado ningún registro de dispositivo con el deviceId indicado.",
    },
    "subscription_not_found": {
        "en-US": "A subscription with the specified subscriptionId is not found.",
        "de": "Ein Abonnement mit der angegebenen subscriptionId wurde nicht gefunden.",
        "fr": "Aucun abonnement avec le subscriptionId indiqué n'a été trouvé.",
        "es": "No se ha encontrado ninguna suscripción con el subscriptionId indicado.",
    },
    "tag_not_found": {
        "en-US": "The tag with the specified tagName is not found.",
        "de": "Das Tag mit dem angegebenen tagName wurde nicht gefunden.",
        "fr": "La balise avec le tagName indiqué est introuvable.",
        "es": "No se ha encontrado la etiqueta con el tagName indicado.",
    },
    "message_not_found": {
        "en-US": "The message with the specified messageId is not found.",
        "de": "Die Nachricht mit der angegebenen messageId wurde nicht gefunden.",
        "fr": "Le message avec le messageId indiqué est introuvable.",
        "es": "No se ha encontrado el mensaje con el messageId indicado.",
    },
    "app_not_found": {
        "en-US": "The application does not exist.",
        "de": "Die Anwendung ist nicht vorhanden.",
        "fr": "L'application n'existe pas.",
        "es": "La aplicación no existe.",
    },
    "settings_not_found": {
        "en-US": "The settings do not exist for the application.",
        "de": "Für die Anwendung sind diese Einstellungen nicht vorhanden.",
        "fr": "Ces paramètres n'existent pas pour l'application.",
        "es": "Esta configuración no existe para la aplicación.",
    },
    "webhook_not_found": {
        "en-US": "The webhook does not exist.",
        "de": "Der Webhook ist nicht vorhanden.",
        "fr": "Le webhook n'existe pas.",
        "es": "El webhook no existe.",
    },
    "not_found": {
        "en-US": "The requested resource is not found.",
        "de": "Die angeforderte Ressource wurde nicht gefunden.",
        "fr": "La ressource demandée est introuvable.",
        "es": "No se ha encontrado el recurso solicitado.",
    },
    "conflict": {
        "en-US": "Conflict - The resource already exists.",
        "de": "Konflikt - Die Ressource ist bereits vorhanden.",
        "fr": "Conflit - La ressource existe déjà.",
        "es": "Conflicto - El recurso ya existe.",
    },
    "unsupported_content_type": {
        "en-US": "Unsupported Content type - The content type specified in Content-Type "
        "header is not application/json.",
        "de": "Nicht unterstützter Inhaltstyp - Der im Content-Type-Header angegebene "
        "Inhaltstyp ist nicht application/json.",
        "fr": "Type de contenu non pris en charge - Le type de contenu indiqué dans l'en-tête "
        "Content-Type n'est pas application/json.",
        "es": "Tipo de contenido no admitido - El tipo de contenido indicado en la cabecera "
        "Content-Type no es application/json.",
    },
    "unsupported_accept": {
        "en-US": "Unsupported Accept type - The content type specified in Accept header is "
        "not application/json.",
        "de": "Nicht unterstützter Accept-Typ - Der im Accept-Header angegebene Inhaltstyp "
        "ist nicht application/json.",
        "fr": "Type Accept non pris en charge - Le type de contenu indiqué dans l'en-tête "
        "Accept n'est pas application/json.",
        "es": "Tipo Accept no admitido - El tipo de contenido indicado en la cabecera Accept "
        "no es application/json.",
    },
    "method_not_allowed": {
        "en-US": "The method is not supported by this resource.",
        "de": "Die Methode wird von dieser Ressource nicht unterstützt.",
        "fr": "La méthode n'est pas prise en charge par cette ressource.",
        "es": "El método no es compatible con este recurso.",
    },
    "too_large": {
        "en-US": "The request body is too large.",
        "de": "Der Anforderungstext ist zu groß.",
        "fr": "Le corps de la requête est trop volumineux.",
        "es": "El cuerpo de la solicitud es demasiado grande.",
    },
    "internal": {
        "en-US": "An internal error occurred.",
        "de": "Ein interner Fehler ist aufgetreten.",
        "fr": "Une erreur interne s'est produite.",
        "es": "Se ha producido un error interno.",
    },
}


def _ranges(header: str) -> list[tuple[float, int, str]]:
    found: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            found.append((-quality, index, tag.lower()))
    return sorted(found)


def negotiate(header: str | None) -> str:
    """The served language the caller prefers most, else en-US."""
    for _, _, tag in _ranges(header or "")[:20]:
        if tag == "*":
            return DEFAULT
        chosen = _PRIMARY.get(tag.split("-")[0])
        if chosen is not None:
            return chosen
    return DEFAULT


def message(key: str, language: str, **values: str) -> str:
    texts = MESSAGES.get(key) or MESSAGES["bad_request"]
    return texts.get(language, texts[DEFAULT]).format(**values)

"""Every text the pages build from codes (field labels, errors, document types), marked for gettext.

N_ marks a string for extraction only; the page translates it when it renders, in the citizen's
language. Texts that stand as they are live in the templates.
"""

from __future__ import annotations

import gettext
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.signing.validate import FieldError


def N_(message: str) -> str:  # noqa: N802 - the name Babel's extractor looks for
    return message


FIELD_LABELS = {
    "full_first_names": N_("Full first names"),
    "family_names": N_("Family names"),
    "street": N_("Street"),
    "street_number": N_("House number"),
    "postal_code": N_("Postal code"),
    "city": N_("City"),
    "country": N_("Country"),
    "date_of_birth": N_("Date of birth"),
    "id_type": N_("Type of personal identification number or document"),
    "id_number": N_("Personal identification number or document number"),
    "privacy_accepted": N_("Privacy statement"),
}

FIELD_HINTS = {
    "full_first_names": N_("All your first names, as written in your identity documents."),
    "family_names": N_("All your family names, as written in your identity documents."),
    "date_of_birth": N_("For example: 27 3 1990"),
    "id_number": N_("As written on the document, issued by the Member State you choose to sign for."),
}

DATE_PART_LABELS = {"day": N_("Day"), "month": N_("Month"), "year": N_("Year")}

DOCUMENT_TYPES = {
    "id.card": N_("Identity card"),
    "passport": N_("Passport"),
    "personal.number": N_("Personal number"),
    "personal.id": N_("Personal identification number"),
    "national.id.number": N_("National identification number"),
    "citizens.card": N_("Citizen card"),
    "residence.permit": N_("Residence document"),
}

_REQUIRED = {
    "full_first_names": N_("Enter your full first names."),
    "family_names": N_("Enter your family names."),
    "street": N_("Enter the street of your permanent residence."),
    "street_number": N_("Enter the number of your permanent residence."),
    "postal_code": N_("Enter the postal code of your permanent residence."),
    "city": N_("Enter the city of your permanent residence."),
    "country": N_("Choose the country of your permanent residence."),
    "date_of_birth": N_("Enter your date of birth."),
    "id_type": N_("Choose the type of your document."),
    "id_number": N_("Enter your personal identification number or document number."),
}

_ERRORS = {
    "name_characters": N_("Use only letters, spaces, apostrophes and hyphens."),
    "text_characters": N_("Use only letters, digits, spaces and usual punctuation."),
    "unknown_option": N_("Choose one of the options in the list."),
    "date_invalid": N_("Enter a date that exists, as day, month and year."),
    "date_in_future": N_("Your date of birth must be in the past."),
    "too_young": N_("To sign for this Member State you must be at least %(age)s years old."),
    "too_young_calendar_year": N_("To sign for this Member State you must turn %(age)s this year or be older."),
    "id_invalid": N_("This number is not valid: a check digit does not match. Check it against your document."),
    "id_format": N_("This number does not have the usual format of this document. "
                    "Check it; if it is correct, tick the box “The format is correct”."),
    "postcode_format": N_("This postal code does not have the usual format of the country. "
                          "Check it; if it is correct, tick the box “The format is correct”."),
    "privacy_not_accepted": N_("Confirm that you have read the privacy statement."),
    "id_characters": N_("Enter the number with its letters and digits only."),
    "postcode_characters": N_("Enter a postal code of 3 to 10 letters and digits."),
}

BAD_REQUESTS = {
    "content_type": N_("The form was sent in a way this site cannot read. Go back and send it again."),
    "too_large": N_("The form you sent is larger than any form of this site."),
    "encoding": N_("The form contained characters that could not be read."),
    "malformed": N_("The form could not be read."),
    "unknown_field": N_("The form contained a field that this form does not have."),
    "repeated_field": N_("The form contained the same field twice."),
    "unknown_member_state": N_("There is no Member State with this code. Choose yours from the list."),
    "not_found": N_("This page does not exist."),
    "storage_unavailable": N_("Your statement of support could not be stored just now, and nothing was stored. "
                              "Please send the form again in a moment."),
    "form_rejected": N_("This form could not be accepted, perhaps because it was open for too long. "
                        "Open the form again and send it once more."),
    "form_replayed": N_("This form had already been sent once. If you did not get a statement identifier, "
                        "check your details below and send them again."),
}

def error_message(error: FieldError, translations: gettext.NullTranslations, calendar_year_rule: bool) -> str:
    """The citizen-facing text for one field error, in the language of `translations`."""
    if error.code == "required":
        return translations.gettext(_REQUIRED[error.field])
    if error.code == "too_long":
        limit = int(error.params["max"])
        return translations.ngettext("This is too long: use at most %(max)s character.",
                                     "This is too long: use at most %(max)s characters.", limit) % {"max": limit}
    code = "too_young_calendar_year" if error.code == "too_young" and calendar_year_rule else error.code
    return translations.gettext(_ERRORS[code]) % dict(error.params)

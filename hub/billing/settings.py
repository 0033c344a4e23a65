"""Billing settings: who the seller is, how documents are numbered, paid and exported.

They sit under `[billing]` in the hub's TOML (`MACHINERIE_HUB_BILLING__SELLER__IBAN=...` in the
environment). The defaults describe a demonstration cooperative with valid check digits, so the
demo's documents pass the Peppol rules; a real site sets its own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator
from stdnum import iban as std_iban
from stdnum.exceptions import ValidationError

from hub.billing.document import Address, Party, Payment
from hub.billing.invoicing import Wording
from hub.billing.journal import AccountPlan
from hub.registry import numbers


class Seller(BaseModel):
    name: str = "Dynamocoop SCRL"
    street: str = "Rue Dony 1"
    postcode: str = "4000"
    city: str = "Liège"
    country: str = "BE"
    enterprise_number: str = "0403170701"
    email: str = "facturation@dynamocoop.example"
    iban: str = "BE68539007547034"
    bic: str | None = "GKCCBEBB"

    @field_validator("enterprise_number")
    @classmethod
    def _enterprise(cls, value: str) -> str:
        return numbers.enterprise_number(value)

    @field_validator("iban")
    @classmethod
    def _iban(cls, value: str) -> str:
        try:
            return str(std_iban.validate(value))
        except ValidationError as exc:
            raise ValueError(f"{value!r} is not a valid IBAN: {exc}") from exc

    @property
    def vat_number(self) -> str:
        return "BE" + self.enterprise_number

    def party(self) -> Party:
        return Party(
            name=self.name,
            address=Address(
                street=self.street, postcode=self.postcode, city=self.city, country=self.country
            ),
            endpoint_scheme="0208",
            endpoint_id=self.enterprise_number,
            reference=self.enterprise_number,
            enterprise_number=self.enterprise_number,
            vat_number=self.vat_number,
            email=self.email,
        )


class BillingSettings(BaseModel):
    seller: Seller = Seller()
    invoice_series: str = Field(default="F", pattern=r"^[A-Z]{1,4}$")
    credit_note_series: str = Field(default="NC", pattern=r"^[A-Z]{1,4}$")
    payment_days: int = Field(default=30, ge=0, le=120)
    language: Literal["fr", "en"] = "fr"
    # A buyer whose month totals zero (free sessions only): "skip" leaves it without a document.
    zero_invoices: Literal["skip", "issue"] = "skip"
    # Check every draft against the official CEN and Peppol rules (about 15 ms a document).
    validate_drafts: bool = True
    reverse_charge_reason: str = "Autoliquidation"
    exempt_reason: str = "Exemption de la TVA, article 44 du Code de la TVA"
    accounts: AccountPlan = AccountPlan()
    journal_preset: str = "generic"
    # How many months back a billing run looks for sessions that reached the hub late.
    catch_up_months: int = Field(default=3, ge=0, le=24)

    def payment(self) -> Payment:
        days = self.payment_days
        terms = (
            f"Payable à {days} jours" if self.language == "fr" else f"Payable within {days} days"
        )
        return Payment(iban=self.seller.iban, bic=self.seller.bic, terms=terms)

    def refund_terms(self) -> str:
        days = self.payment_days
        if self.language == "fr":
            return f"Remboursé par virement dans les {days} jours"
        return f"Refunded by bank transfer within {days} days"

    def wording(self) -> Wording:
        return Wording(
            language=self.language,
            reverse_charge_reason=self.reverse_charge_reason,
            exempt_reason=self.exempt_reason,
        )

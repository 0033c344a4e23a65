"""The UBL 2.1 element order, checked without the XSD.

Receivers validate e-invoices against the UBL 2.1 schema, whose every type is an `xsd:sequence`:
an element out of place is a rejection even when every business rule passes. This module holds
the sequences (UBL 2.1 COS1, `xsdrt/maindoc` and `UBL-CommonAggregateComponents-2.1.xsd`) of the
root documents and of every aggregate that our invoices or the official Peppol examples use,
and checks a tree against them recursively. An aggregate missing from the table is reported too,
so the writer cannot start emitting something the check would silently skip.
"""

from __future__ import annotations

from lxml import etree

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
EXT = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
_PREFIX = {CAC: "cac", CBC: "cbc", EXT: "ext"}

# The type of each aggregate element (several elements share one type).
ELEMENT_TYPES = {
    "Invoice": "InvoiceType",
    "CreditNote": "CreditNoteType",
    "AccountingSupplierParty": "SupplierPartyType",
    "AccountingCustomerParty": "CustomerPartyType",
    "Party": "PartyType",
    "DeliveryParty": "PartyType",
    "PartyIdentification": "PartyIdentificationType",
    "PartyName": "PartyNameType",
    "PostalAddress": "AddressType",
    "Address": "AddressType",
    "AddressLine": "AddressLineType",
    "Country": "CountryType",
    "OriginCountry": "CountryType",
    "PartyTaxScheme": "PartyTaxSchemeType",
    "TaxScheme": "TaxSchemeType",
    "PartyLegalEntity": "PartyLegalEntityType",
    "Contact": "ContactType",
    "InvoicePeriod": "PeriodType",
    "BillingReference": "BillingReferenceType",
    "InvoiceDocumentReference": "DocumentReferenceType",
    "Delivery": "DeliveryType",
    "DeliveryLocation": "LocationType",
    "PaymentMeans": "PaymentMeansType",
    "PayeeFinancialAccount": "FinancialAccountType",
    "FinancialInstitutionBranch": "BranchType",
    "PaymentTerms": "PaymentTermsType",
    "AllowanceCharge": "AllowanceChargeType",
    "TaxCategory": "TaxCategoryType",
    "ClassifiedTaxCategory": "TaxCategoryType",
    "TaxTotal": "TaxTotalType",
    "TaxSubtotal": "TaxSubtotalType",
    "LegalMonetaryTotal": "MonetaryTotalType",
    "InvoiceLine": "InvoiceLineType",
    "CreditNoteLine": "CreditNoteLineType",
    "OrderLineReference": "OrderLineReferenceType",
    "Item": "ItemType",
    "SellersItemIdentification": "ItemIdentificationType",
    "StandardItemIdentification": "ItemIdentificationType",
    "CommodityClassification": "CommodityClassificationType",
    "AdditionalItemProperty": "ItemPropertyType",
    "Price": "PriceType",
}


def _seq(names: str) -> tuple[str, ...]:
    return tuple(names.split())


SEQUENCES: dict[str, tuple[str, ...]] = {
    "InvoiceType": _seq(
        """ext:UBLExtensions cbc:UBLVersionID cbc:CustomizationID cbc:ProfileID
        cbc:ProfileExecutionID cbc:ID cbc:CopyIndicator cbc:UUID cbc:IssueDate cbc:IssueTime
        cbc:DueDate cbc:InvoiceTypeCode cbc:Note cbc:TaxPointDate cbc:DocumentCurrencyCode
        cbc:TaxCurrencyCode cbc:PricingCurrencyCode cbc:PaymentCurrencyCode
        cbc:PaymentAlternativeCurrencyCode cbc:AccountingCostCode cbc:AccountingCost
        cbc:LineCountNumeric cbc:BuyerReference cac:InvoicePeriod cac:OrderReference
        cac:BillingReference cac:DespatchDocumentReference cac:ReceiptDocumentReference
        cac:StatementDocumentReference cac:OriginatorDocumentReference
        cac:ContractDocumentReference cac:AdditionalDocumentReference cac:ProjectReference
        cac:Signature cac:AccountingSupplierParty cac:AccountingCustomerParty cac:PayeeParty
        cac:BuyerCustomerParty cac:SellerSupplierParty cac:TaxRepresentativeParty cac:Delivery
        cac:DeliveryTerms cac:PaymentMeans cac:PaymentTerms cac:PrepaidPayment
        cac:AllowanceCharge cac:TaxExchangeRate cac:PricingExchangeRate cac:PaymentExchangeRate
        cac:PaymentAlternativeExchangeRate cac:TaxTotal cac:WithholdingTaxTotal
        cac:LegalMonetaryTotal cac:InvoiceLine"""
    ),
    "CreditNoteType": _seq(
        """ext:UBLExtensions cbc:UBLVersionID cbc:CustomizationID cbc:ProfileID
        cbc:ProfileExecutionID cbc:ID cbc:CopyIndicator cbc:UUID cbc:IssueDate cbc:IssueTime
        cbc:TaxPointDate cbc:CreditNoteTypeCode cbc:Note cbc:DocumentCurrencyCode
        cbc:TaxCurrencyCode cbc:PricingCurrencyCode cbc:PaymentCurrencyCode
        cbc:PaymentAlternativeCurrencyCode cbc:AccountingCostCode cbc:AccountingCost
        cbc:LineCountNumeric cbc:BuyerReference cac:InvoicePeriod cac:DiscrepancyResponse
        cac:OrderReference cac:BillingReference cac:DespatchDocumentReference
        cac:ReceiptDocumentReference cac:ContractDocumentReference cac:AdditionalDocumentReference
        cac:StatementDocumentReference cac:OriginatorDocumentReference cac:Signature
        cac:AccountingSupplierParty cac:AccountingCustomerParty cac:PayeeParty
        cac:BuyerCustomerParty cac:SellerSupplierParty cac:TaxRepresentativeParty cac:Delivery
        cac:DeliveryTerms cac:PaymentMeans cac:PaymentTerms cac:TaxExchangeRate
        cac:PricingExchangeRate cac:PaymentExchangeRate cac:PaymentAlternativeExchangeRate
        cac:AllowanceCharge cac:TaxTotal cac:LegalMonetaryTotal cac:CreditNoteLine"""
    ),
    "SupplierPartyType": _seq(
        """cbc:CustomerAssignedAccountID cbc:AdditionalAccountID cbc:DataSendingCapability
        cac:Party cac:DespatchContact cac:AccountingContact cac:SellerContact"""
    ),
    "CustomerPartyType": _seq(
        """cbc:CustomerAssignedAccountID cbc:SupplierAssignedAccountID cbc:AdditionalAccountID
        cac:Party cac:DeliveryContact cac:AccountingContact cac:BuyerContact"""
    ),
    "PartyType": _seq(
        """cbc:MarkCareIndicator cbc:MarkAttentionIndicator cbc:WebsiteURI cbc:LogoReferenceID
        cbc:EndpointID cbc:IndustryClassificationCode cac:PartyIdentification cac:PartyName
        cac:Language cac:PostalAddress cac:PhysicalLocation cac:PartyTaxScheme
        cac:PartyLegalEntity cac:Contact cac:Person cac:AgentParty cac:ServiceProviderParty
        cac:PowerOfAttorney cac:FinancialAccount"""
    ),
    "PartyIdentificationType": _seq("cbc:ID"),
    "PartyNameType": _seq("cbc:Name"),
    "AddressType": _seq(
        """cbc:ID cbc:AddressTypeCode cbc:AddressFormatCode cbc:Postbox cbc:Floor cbc:Room
        cbc:StreetName cbc:AdditionalStreetName cbc:BlockName cbc:BuildingName
        cbc:BuildingNumber cbc:InhouseMail cbc:Department cbc:MarkAttention cbc:MarkCare
        cbc:PlotIdentification cbc:CitySubdivisionName cbc:CityName cbc:PostalZone
        cbc:CountrySubentity cbc:CountrySubentityCode cbc:Region cbc:District
        cbc:TimezoneOffset cac:AddressLine cac:Country cac:LocationCoordinate"""
    ),
    "AddressLineType": _seq("cbc:Line"),
    "CountryType": _seq("cbc:IdentificationCode cbc:Name"),
    "PartyTaxSchemeType": _seq(
        """cbc:RegistrationName cbc:CompanyID cbc:TaxLevelCode cbc:ExemptionReasonCode
        cbc:ExemptionReason cac:RegistrationAddress cac:TaxScheme"""
    ),
    "TaxSchemeType": _seq(
        "cbc:ID cbc:Name cbc:TaxTypeCode cbc:CurrencyCode cac:JurisdictionRegionAddress"
    ),
    "PartyLegalEntityType": _seq(
        """cbc:RegistrationName cbc:CompanyID cbc:RegistrationDate cbc:RegistrationExpirationDate
        cbc:CompanyLegalFormCode cbc:CompanyLegalForm cbc:SoleProprietorshipIndicator
        cbc:CompanyLiquidationStatusCode cbc:CorporateStockAmount cbc:FullyPaidSharesIndicator
        cac:RegistrationAddress cac:CorporateRegistrationScheme cac:HeadOfficeParty
        cac:ShareholderParty"""
    ),
    "ContactType": _seq(
        """cbc:ID cbc:Name cbc:Telephone cbc:Telefax cbc:ElectronicMail cbc:Note
        cac:OtherCommunication"""
    ),
    "PeriodType": _seq(
        """cbc:StartDate cbc:StartTime cbc:EndDate cbc:EndTime cbc:DurationMeasure
        cbc:DescriptionCode cbc:Description"""
    ),
    "BillingReferenceType": _seq(
        """cac:InvoiceDocumentReference cac:SelfBilledInvoiceDocumentReference
        cac:CreditNoteDocumentReference cac:SelfBilledCreditNoteDocumentReference
        cac:DebitNoteDocumentReference cac:ReminderDocumentReference
        cac:AdditionalDocumentReference cac:BillingReferenceLine"""
    ),
    "DocumentReferenceType": _seq(
        """cbc:ID cbc:CopyIndicator cbc:UUID cbc:IssueDate cbc:IssueTime cbc:DocumentTypeCode
        cbc:DocumentType cbc:XPath cbc:LanguageID cbc:LocaleCode cbc:VersionID
        cbc:DocumentStatusCode cbc:DocumentDescription cac:Attachment cac:ValidityPeriod
        cac:IssuerParty cac:ResultOfVerification"""
    ),
    "DeliveryType": _seq(
        """cbc:ID cbc:Quantity cbc:MinimumQuantity cbc:MaximumQuantity cbc:ActualDeliveryDate
        cbc:ActualDeliveryTime cbc:LatestDeliveryDate cbc:LatestDeliveryTime cbc:ReleaseID
        cbc:TrackingID cac:DeliveryAddress cac:DeliveryLocation cac:AlternativeDeliveryLocation
        cac:RequestedDeliveryPeriod cac:PromisedDeliveryPeriod cac:EstimatedDeliveryPeriod
        cac:CarrierParty cac:DeliveryParty cac:NotifyParty cac:Despatch cac:DeliveryTerms
        cac:MinimumDeliveryUnit cac:MaximumDeliveryUnit cac:Shipment"""
    ),
    "LocationType": _seq(
        """cbc:ID cbc:Description cbc:Conditions cbc:CountrySubentity cbc:CountrySubentityCode
        cbc:LocationTypeCode cbc:InformationURI cbc:Name cac:ValidityPeriod cac:Address
        cac:SubsidiaryLocation cac:LocationCoordinate"""
    ),
    "PaymentMeansType": _seq(
        """cbc:ID cbc:PaymentMeansCode cbc:PaymentDueDate cbc:PaymentChannelCode
        cbc:InstructionID cbc:InstructionNote cbc:PaymentID cac:CardAccount
        cac:PayerFinancialAccount cac:PayeeFinancialAccount cac:CreditAccount
        cac:PaymentMandate cac:TradeFinancing"""
    ),
    "FinancialAccountType": _seq(
        """cbc:ID cbc:Name cbc:AliasName cbc:AccountTypeCode cbc:AccountFormatCode
        cbc:CurrencyCode cbc:PaymentNote cac:FinancialInstitutionBranch cac:Country"""
    ),
    "BranchType": _seq("cbc:ID cbc:Name cac:FinancialInstitution cac:Address"),
    "PaymentTermsType": _seq(
        """cbc:ID cbc:PaymentMeansID cbc:PrepaidPaymentReferenceID cbc:Note
        cbc:ReferenceEventCode cbc:SettlementDiscountPercent cbc:PenaltySurchargePercent
        cbc:PaymentPercent cbc:Amount cbc:SettlementDiscountAmount cbc:PenaltyAmount
        cbc:PaymentTermsDetailsURI cbc:PaymentDueDate cbc:InstallmentDueDate
        cbc:InvoicingPartyReference cac:SettlementPeriod cac:PenaltyPeriod cac:ExchangeRate
        cac:ValidityPeriod"""
    ),
    "AllowanceChargeType": _seq(
        """cbc:ID cbc:ChargeIndicator cbc:AllowanceChargeReasonCode cbc:AllowanceChargeReason
        cbc:MultiplierFactorNumeric cbc:PrepaidIndicator cbc:SequenceNumeric cbc:Amount
        cbc:BaseAmount cbc:AccountingCostCode cbc:AccountingCost cbc:PerUnitAmount
        cac:TaxCategory cac:TaxTotal cac:PaymentMeans"""
    ),
    "TaxCategoryType": _seq(
        """cbc:ID cbc:Name cbc:Percent cbc:BaseUnitMeasure cbc:PerUnitAmount
        cbc:TaxExemptionReasonCode cbc:TaxExemptionReason cbc:TierRange cbc:TierRatePercent
        cac:TaxScheme"""
    ),
    "TaxTotalType": _seq(
        """cbc:TaxAmount cbc:RoundingAmount cbc:TaxEvidenceIndicator cbc:TaxIncludedIndicator
        cac:TaxSubtotal"""
    ),
    "TaxSubtotalType": _seq(
        """cbc:TaxableAmount cbc:TaxAmount cbc:CalculationSequenceNumeric
        cbc:TransactionCurrencyTaxAmount cbc:Percent cbc:BaseUnitMeasure cbc:PerUnitAmount
        cbc:TierRange cbc:TierRatePercent cac:TaxCategory"""
    ),
    "MonetaryTotalType": _seq(
        """cbc:LineExtensionAmount cbc:TaxExclusiveAmount cbc:TaxInclusiveAmount
        cbc:AllowanceTotalAmount cbc:ChargeTotalAmount cbc:PrepaidAmount
        cbc:PayableRoundingAmount cbc:PayableAmount cbc:PayableAlternativeAmount"""
    ),
    "InvoiceLineType": _seq(
        """cbc:ID cbc:UUID cbc:Note cbc:InvoicedQuantity cbc:LineExtensionAmount
        cbc:TaxPointDate cbc:AccountingCostCode cbc:AccountingCost cbc:PaymentPurposeCode
        cbc:FreeOfChargeIndicator cac:InvoicePeriod cac:OrderLineReference
        cac:DespatchLineReference cac:ReceiptLineReference cac:BillingReference
        cac:DocumentReference cac:PricingReference cac:OriginatorParty cac:Delivery
        cac:PaymentTerms cac:AllowanceCharge cac:TaxTotal cac:WithholdingTaxTotal cac:Item
        cac:Price cac:DeliveryTerms cac:SubInvoiceLine cac:ItemPriceExtension"""
    ),
    "CreditNoteLineType": _seq(
        """cbc:ID cbc:UUID cbc:Note cbc:CreditedQuantity cbc:LineExtensionAmount
        cbc:TaxPointDate cbc:AccountingCostCode cbc:AccountingCost cbc:PaymentPurposeCode
        cbc:FreeOfChargeIndicator cac:InvoicePeriod cac:OrderLineReference
        cac:DiscrepancyResponse cac:DespatchLineReference cac:ReceiptLineReference
        cac:BillingReference cac:DocumentReference cac:PricingReference cac:OriginatorParty
        cac:Delivery cac:PaymentTerms cac:TaxTotal cac:AllowanceCharge cac:Item cac:Price
        cac:DeliveryTerms cac:SubCreditNoteLine cac:ItemPriceExtension"""
    ),
    "OrderLineReferenceType": _seq(
        "cbc:LineID cbc:SalesOrderLineID cbc:UUID cbc:LineStatusCode cac:OrderReference"
    ),
    "ItemType": _seq(
        """cbc:Description cbc:PackQuantity cbc:PackSizeNumeric cbc:CatalogueIndicator cbc:Name
        cbc:HazardousRiskIndicator cbc:AdditionalInformation cbc:Keyword cbc:BrandName
        cbc:ModelName cac:BuyersItemIdentification cac:SellersItemIdentification
        cac:ManufacturersItemIdentification cac:StandardItemIdentification
        cac:CatalogueItemIdentification cac:AdditionalItemIdentification
        cac:CatalogueDocumentReference cac:ItemSpecificationDocumentReference
        cac:OriginCountry cac:CommodityClassification cac:TransactionConditions
        cac:HazardousItem cac:ClassifiedTaxCategory cac:AdditionalItemProperty
        cac:ManufacturerParty cac:InformationContentProviderParty cac:OriginAddress
        cac:ItemInstance cac:Certificate cac:Dimension"""
    ),
    "ItemIdentificationType": _seq(
        """cbc:ID cbc:ExtendedID cbc:BarcodeSymbologyID cac:PhysicalAttribute
        cac:MeasurementDimension cac:IssuerParty"""
    ),
    "CommodityClassificationType": _seq(
        "cbc:NatureCode cbc:CargoTypeCode cbc:CommodityCode cbc:ItemClassificationCode"
    ),
    "ItemPropertyType": _seq(
        """cbc:ID cbc:Name cbc:NameCode cbc:TestMethod cbc:Value cbc:ValueQuantity
        cbc:ValueQualifier cbc:ImportanceCode cbc:ListValue cac:UsabilityPeriod
        cac:ItemPropertyGroup cac:RangeDimension cac:ItemPropertyRange"""
    ),
    "PriceType": _seq(
        """cbc:PriceAmount cbc:BaseQuantity cbc:PriceChangeReason cbc:PriceTypeCode
        cbc:PriceType cbc:OrderableUnitFactorRate cac:ValidityPeriod cac:PriceList
        cac:AllowanceCharge cac:PricingExchangeRate"""
    ),
}


def _name(element: etree._Element) -> str:
    qname = etree.QName(element)
    return f"{_PREFIX.get(qname.namespace or '', '?')}:{qname.localname}"


def order_problems(element: etree._Element) -> list[str]:
    """Every place where `element` or its descendants leave the UBL 2.1 sequences; [] if none."""
    problems: list[str] = []
    _check(element, etree.QName(element).localname, problems)
    return problems


def _check(element: etree._Element, path: str, problems: list[str]) -> None:
    local = etree.QName(element).localname
    type_name = ELEMENT_TYPES.get(local)
    if type_name is None:
        problems.append(f"{path}: no UBL sequence known for {local}")
        return
    sequence = SEQUENCES[type_name]
    last = -1
    for child in element.iterchildren(tag=etree.Element):
        name = _name(child)
        child_path = f"{path}/{name}"
        if name not in sequence:
            problems.append(f"{child_path}: not allowed in {type_name}")
            continue
        place = sequence.index(name)
        if place < last:
            problems.append(f"{child_path}: comes after {sequence[last]} in {type_name}")
        last = max(last, place)
        if etree.QName(child).namespace == CAC:
            _check(child, child_path, problems)

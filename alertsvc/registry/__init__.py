"""The support register (避難行動要支援者名簿): CSV import, phone numbers, dates, storage.

Public surface: ``import_register`` (validate + one-transaction upsert), ``load_residents``
(what targeting builds on), ``mark_contact_unhealthy`` (provider feedback), and the
``mask_phone`` / ``mask_token`` helpers for logs and default CLI output.
"""

from __future__ import annotations

from alertsvc.registry.csv_import import (
    ParseResult,
    RegisterImportFailed,
    RegisterReport,
    RejectedRecord,
    RemovalsRefused,
    ResidentRecord,
    apply_register,
    import_register,
    parse_register,
    read_register,
)
from alertsvc.registry.phones import (
    PhoneError,
    mask_phone,
    mask_token,
    normalise_phone,
    normalise_token,
)
from alertsvc.registry.store import (
    RegisterEntry,
    list_register,
    load_residents,
    mark_contact_unhealthy,
    resident_info,
)
from alertsvc.registry.wareki import parse_date

__all__ = [
    "ParseResult",
    "PhoneError",
    "RegisterEntry",
    "RegisterImportFailed",
    "RegisterReport",
    "RejectedRecord",
    "RemovalsRefused",
    "ResidentRecord",
    "apply_register",
    "import_register",
    "list_register",
    "load_residents",
    "mark_contact_unhealthy",
    "mask_phone",
    "mask_token",
    "normalise_phone",
    "normalise_token",
    "parse_date",
    "parse_register",
    "read_register",
    "resident_info",
]

"""CAP 1.2: the namespace, the OASIS schema, and a safe parse-and-validate step.

Untrusted XML is parsed with defusedxml (no entity expansion, no external entities, no
DTD retrieval) before the schema sees it.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from pathlib import Path

import defusedxml.ElementTree as SafeET
import xmlschema
from defusedxml import DefusedXmlException

__all__ = ["CAP_NS", "CapInvalid", "cap_schema", "parse_cap", "validate_cap"]

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_XSD = Path(__file__).with_name("CAP-v1.2.xsd")


class CapInvalid(ValueError):
    """The document is not valid CAP 1.2; the message says why (and where)."""


@functools.cache
def cap_schema() -> xmlschema.XMLSchema10:
    """The OASIS CAP 1.2 schema, loaded once from the package."""
    # no fallback schemas: content under CAP's lax ##other wildcard (an XML signature)
    # is checked only against schemas we load, as lxml and the OASIS reference do
    return xmlschema.XMLSchema10(str(_XSD), use_fallback=False)


def parse_cap(data: bytes) -> ET.Element:
    """Parse bytes (any declared encoding) safely; CapInvalid for malformed or hostile XML."""
    try:
        return SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise CapInvalid(f"refused XML construct: {exc}") from None
    except ET.ParseError as exc:
        raise CapInvalid(f"not well-formed XML: {exc}") from None
    except (ValueError, LookupError) as exc:  # unknown or lying encoding declaration
        raise CapInvalid(f"cannot decode the document: {exc}") from None


def validate_cap(alert: ET.Element) -> None:
    """Raise CapInvalid unless ``alert`` is a CAP 1.2 ``<alert>`` valid against the XSD."""
    tag = alert.tag
    if tag != f"{{{CAP_NS}}}alert":
        ns = tag[1:].split("}", 1)[0] if tag.startswith("{") else "(none)"
        local = tag.split("}", 1)[-1]
        raise CapInvalid(
            f"root element is <{local}> in namespace {ns}; expected <alert> in {CAP_NS}"
        )
    errors = list(cap_schema().iter_errors(alert))
    if errors:
        first = errors[0]
        where = first.path or "/alert"
        raise CapInvalid(f"CAP 1.2 schema: {where}: {first.reason}")

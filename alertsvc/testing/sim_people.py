"""What scripted residents and supporters do when a message reaches them.

Called by ``alertsvc.testing.simulator``: ``sms_follow_up`` decides, when an SMS is
accepted, what its actor does once it is delivered (reply by SMS, or follow the link in
it and submit the page's form); ``keypress`` posts a scripted ``<Gather>`` answer. Each
records an ``ActorRecord`` on the simulator (``sim.actions``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from alertsvc.testing.sim_actors import ActorRecord, click_page, first_link, key_of
from alertsvc.testing.sim_base import now
from alertsvc.testing.sim_script import Actor

if TYPE_CHECKING:
    from alertsvc.testing.simulator import ProviderSimulator

__all__ = ["click", "keypress", "reply_sms", "sms_follow_up"]


def keypress(sim: ProviderSimulator, url: str, params: dict[str, str]) -> None:
    status = sim._post_signed("twilio-voice", url, params)
    outcome = "posted" if status else "error"
    sim._act(
        ActorRecord(params.get("To", ""), "keypress", params.get("Digits", ""), status,
                    outcome, now(), key_of(url), path=urlparse(url).path)
    )  # fmt: skip


def sms_follow_up(
    sim: ProviderSimulator, account: str, form: Mapping[str, str]
) -> list[tuple[float, Callable[[], object]]]:
    """What the actor holding ``form["To"]`` does once this SMS is delivered."""
    address = form.get("To", "")
    actor = sim._actor(address)
    if actor is None or actor.via not in ("sms", "page"):
        return []
    key = key_of(form.get("StatusCallback", ""))
    if actor.via == "sms":
        reply = {
            "ToCountry": "JP",
            "SmsMessageSid": "",
            "NumMedia": "0",
            "SmsSid": "",
            "SmsStatus": "received",
            "Body": actor.answer,
            "To": form.get("From", ""),
            "NumSegments": "1",
            "MessageSid": "",
            "AccountSid": account,
            "From": address,
            "ApiVersion": "2010-04-01",
        }
        return [(actor.delay_s, lambda: reply_sms(sim, address, actor, reply))]
    body = form.get("Body", "")
    return [(actor.delay_s, lambda: click(sim, address, actor, body, key))]


def reply_sms(sim: ProviderSimulator, address: str, actor: Actor, params: dict[str, str]) -> None:
    sid = "SM" + secrets.token_hex(16)
    params = {**params, "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid}
    answering = sim._answering(address)
    url = sim.sms_url
    if not url:
        sim._act(ActorRecord(address, "sms", actor.answer, 0, "error", now(), answering,
                              detail="no sms_url (callback_url) configured"))  # fmt: skip
        return
    status = sim._post_signed("twilio-sms", url, params)
    sim._act(
        ActorRecord(address, "sms", actor.answer, status, "posted" if status else "error",
                    now(), answering, path=urlparse(url).path)
    )  # fmt: skip


def click(sim: ProviderSimulator, address: str, actor: Actor, body: str, key: str) -> None:
    link = first_link(body)
    if not link:
        sim._act(ActorRecord(address, "page", actor.answer, 0, "no_link", now(), key))
        return
    people = list(actor.people.items()) or [("", actor.answer)]
    for person, answer in people:
        status, outcome, path, detail = click_page(link, answer, person=person)
        sim._act(
            ActorRecord(address, "page", answer, status, outcome, now(), key_of(link) or key,
                        person, path, detail)
        )  # fmt: skip

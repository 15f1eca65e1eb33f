"""Shipped fakes: channels that record what they were asked to send.

``FakeChannel`` satisfies ``alertsvc.channels.Channel`` structurally. It records every
message in ``sent`` (every attempt, in order) and answers from a script per address:
an ``Outcome`` (always), a sequence of outcomes (one per attempt, the last repeating:
``[DEFERRED, DEFERRED, DELIVERED]`` is "deferred twice, then delivered") or a ready
``DeliveryResult``. Unscripted addresses are DELIVERED, except that a seeded
``fault_rate`` turns a share of them into DEFERRED (simulated 429 / 5xx).
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import ClassVar

from alertsvc.dispatch.alerts import EXERCISE_PREFIX, PlannedDelivery, PlannedTarget
from alertsvc.models import ChannelName, DeliveryResult, Outcome, OutgoingMessage

__all__ = [
    "FakeChannel",
    "FakeEmailChannel",
    "FakeFaxChannel",
    "FakeLineChannel",
    "FakePushChannel",
    "FakeSmsChannel",
    "FakeVoiceChannel",
    "fake_channels",
    "resident_delivery",
    "simple_plan",
]

Script = Outcome | DeliveryResult | Sequence[Outcome | DeliveryResult]


class FakeChannel:
    """A scriptable in-memory channel. Use a subclass (or ``FakeChannel.of``) per channel."""

    name: ClassVar[ChannelName] = ChannelName.PUSH
    max_batch: ClassVar[int] = 500

    def __init__(
        self,
        *,
        script: dict[str, Script] | None = None,
        fault_rate: float = 0.0,
        seed: int = 0,
        on_send: Callable[[OutgoingMessage, DeliveryResult], None] | None = None,
    ) -> None:
        self.script: dict[str, Script] = dict(script or {})
        self.fault_rate = fault_rate
        self.sent: list[OutgoingMessage] = []
        self.results: list[DeliveryResult] = []
        self.on_send = on_send
        self._rng = random.Random(seed)
        self._attempts: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @staticmethod
    def of(channel: ChannelName, **kwargs: object) -> FakeChannel:
        """A fake for ``channel`` (push, sms or voice), with that channel's ``max_batch``."""
        cls = {
            ChannelName.PUSH: FakePushChannel,
            ChannelName.SMS: FakeSmsChannel,
            ChannelName.VOICE: FakeVoiceChannel,
            ChannelName.FAX: FakeFaxChannel,
            ChannelName.LINE: FakeLineChannel,
            ChannelName.EMAIL: FakeEmailChannel,
        }[ChannelName(channel)]
        return cls(**kwargs)  # type: ignore[arg-type]

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """One result per message, in order; never raises for a per-recipient problem."""
        out: list[DeliveryResult] = []
        with self._lock:
            for m in messages:
                res = self._answer(m)
                self.sent.append(m)
                self.results.append(res)
                if self.on_send is not None:
                    self.on_send(m, res)
                out.append(res)
        return out

    def _answer(self, m: OutgoingMessage) -> DeliveryResult:
        n = self._attempts[m.address]
        self._attempts[m.address] += 1
        entry = self.script.get(m.address)
        planned: Outcome | DeliveryResult | None
        if isinstance(entry, Outcome | DeliveryResult) or entry is None:
            planned = entry
        else:
            planned = entry[min(n, len(entry) - 1)] if entry else None
        if isinstance(planned, DeliveryResult):
            return planned
        if planned is None and self.fault_rate and self._rng.random() < self.fault_rate:
            code = self._rng.choice(("429 Too Many Requests", "503 Service Unavailable"))
            return DeliveryResult(Outcome.DEFERRED, self.name.value, detail=f"injected {code}")
        outcome = planned if planned is not None else Outcome.DELIVERED
        ref = f"FAKE{self.name.value.upper()}{next(self._ids):08d}"
        return DeliveryResult(
            outcome,
            self.name.value,
            provider_ref=ref if outcome in (Outcome.DELIVERED, Outcome.UNKNOWN) else None,
            detail="" if outcome is Outcome.DELIVERED else f"scripted {outcome.value}",
        )

    # -- helpers for assertions ------------------------------------------------------

    @property
    def sent_keys(self) -> Counter[str]:
        """How many times each outbox key was handed to this channel."""
        with self._lock:
            return Counter(m.key for m in self.sent)

    @property
    def accepted_keys(self) -> Counter[str]:
        """How many times each key got a DELIVERED (accepted) result."""
        with self._lock:
            return Counter(
                m.key
                for m, r in zip(self.sent, self.results, strict=True)
                if r.outcome is Outcome.DELIVERED
            )

    def addresses(self) -> list[str]:
        with self._lock:
            return [m.address for m in self.sent]


class FakePushChannel(FakeChannel):
    name: ClassVar[ChannelName] = ChannelName.PUSH
    max_batch: ClassVar[int] = 500  # FCM send_each


class FakeSmsChannel(FakeChannel):
    name: ClassVar[ChannelName] = ChannelName.SMS
    max_batch: ClassVar[int] = 1  # Twilio: one request per message


class FakeVoiceChannel(FakeChannel):
    name: ClassVar[ChannelName] = ChannelName.VOICE
    max_batch: ClassVar[int] = 1


class FakeFaxChannel(FakeChannel):
    name: ClassVar[ChannelName] = ChannelName.FAX
    max_batch: ClassVar[int] = 1


class FakeLineChannel(FakeChannel):
    name: ClassVar[ChannelName] = ChannelName.LINE
    max_batch: ClassVar[int] = 1


class FakeEmailChannel(FakeChannel):
    name: ClassVar[ChannelName] = ChannelName.EMAIL
    max_batch: ClassVar[int] = 50


def fake_channels(**kwargs: object) -> dict[ChannelName, FakeChannel]:
    """One fake per channel, built with the same keyword arguments."""
    return {c: FakeChannel.of(c, **kwargs) for c in ChannelName}


def _address(channel: ChannelName, i: int) -> str:
    if channel is ChannelName.PUSH:
        return f"fake-fcm-token-{i:06d}-{'x' * 20}"
    # 090-0000-xxxx style numbers; voice gets the landline-ish 03 prefix
    return f"+8190{i:08d}" if channel is ChannelName.SMS else f"+8135{i:08d}"


def resident_delivery(
    resident: str,
    channel: ChannelName,
    address: str,
    *,
    step: int = 0,
    body: str = "避難指示が出ました。",
    title: str = "避難指示",
) -> PlannedDelivery:
    """One message to a resident's own address (Japanese, priority 1)."""
    return PlannedDelivery(
        resident_id=resident,
        recipient="resident",
        supporter_id=None,
        step=step,
        channel=channel,
        address=address,
        language="ja",
        title=title,
        body=body,
        data=(),
        priority=1.0,
    )


def simple_plan(
    n_people: int,
    *,
    channels: Sequence[ChannelName] = (ChannelName.SMS,),
    exercise: bool = False,
    supporter_channel: ChannelName | None = None,
    first: int = 0,
) -> tuple[list[PlannedTarget], list[PlannedDelivery]]:
    """A plan for ``n_people`` test residents: one delivery per channel, in escalation order.

    Resident ``R00003`` has priority ``n_people - 3`` (earlier residents first). Channel
    ``k`` in ``channels`` is step ``k``. With ``supporter_channel``, each resident also has
    one supporter (id ``i + 1``) notified on that channel with consent.
    """
    prefix = EXERCISE_PREFIX if exercise else ""
    targets: list[PlannedTarget] = []
    deliveries: list[PlannedDelivery] = []
    for i in range(first, first + n_people):
        rid = f"R{i:05d}"
        priority = float(first + n_people - i)
        targets.append(PlannedTarget(rid, priority, located=True, reachable=True))
        for step, ch in enumerate(channels):
            deliveries.append(
                PlannedDelivery(
                    resident_id=rid,
                    recipient="resident",
                    supporter_id=None,
                    step=step,
                    channel=ch,
                    address=_address(ch, i),
                    language="ja",
                    title="避難情報",
                    body=f"{prefix}警戒レベル3 高齢者等避難。{rid}さん、避難してください。",
                    data=(("resident", rid),),
                    priority=priority,
                )
            )
        if supporter_channel is not None:
            deliveries.append(
                PlannedDelivery(
                    resident_id=rid,
                    recipient="supporter",
                    supporter_id=i + 1,
                    step=0,
                    channel=supporter_channel,
                    address=_address(supporter_channel, 500_000 + i),
                    language="ja",
                    title="避難支援のお願い",
                    body=f"{prefix}支援をお願いします。",
                    data=(),
                    priority=priority,
                    legal_basis="consent",
                )
            )
    return targets, deliveries

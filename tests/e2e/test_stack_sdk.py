"""The lab's SDK and CLI against the whole marketplace, every component in its own process:
search, buy, a purchase retried after its answer was lost, typed refusals, delivery,
download, and the downloaded bundle read back as records with their licence terms."""

import asyncio
import hashlib
import json
import os
import socket
import socketserver
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from assent.client import (
    AssentClient,
    Conflict,
    InsufficientFunds,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from assent.models import Use
from services.contracts.catalogue import MediaType
from services.contracts.delivery import DeliveryStatus
from tests.e2e.marketplace import (
    COMPLETE,
    TOP_UP,
    cli,
    create_work,
    eur_balance,
    funded_buyer,
    list_for_sale,
    register,
    run_cli,
    upload_single,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

USES = ["TRAINING", "EVALUATION"]


async def listed(
    gateway: GraphQLClient, creator: str, *, title: str, price: int, **work: Any
) -> tuple[str, bytes]:
    content = os.urandom(20_000 + price)
    created = await create_work(gateway, creator, content, title=title, **work)
    await upload_single(created, content)
    work_id: str = created["work"]["id"]
    completed = await gateway.execute(COMPLETE, {"id": work_id}, key=creator)
    assert completed["completeUpload"]["__typename"] == "UploadCompleted"
    await list_for_sale(gateway, creator, work_id, price=price, uses=USES)
    return work_id, content


async def test_a_lab_searches_buys_downloads_and_reads_its_records_with_the_sdk(
    gateway: GraphQLClient, running_stack: RunningStack, tmp_path: Path
) -> None:
    # A word no other test's works carry, so the search sees only these.
    word = f"kelp{uuid.uuid4().hex[:8]}"
    _, creator = await register(gateway, "CREATOR", "Ines Duarte")
    harbour, harbour_bytes = await listed(
        gateway, creator, title=f"Harbour {word}", price=1_200, tags=["painting", word]
    )
    song, song_bytes = await listed(
        gateway, creator, title=f"Tide song {word}", price=800, mediaType="AUDIO", tags=[word]
    )
    dear, _ = await listed(gateway, creator, title=f"Gulls {word}", price=9_000, tags=[word])
    buyer_id, lab = await funded_buyer(gateway, running_stack.admin_key, "Kelp Lab", 10_000)

    with AssentClient(running_stack.stack.gateway_url, lab) as client:
        # Pages of two: the third work comes from the second page, fetched lazily.
        everything = list(client.search(word, page_size=2, sort="price_asc"))
        assert [work.id for work in everything] == [song, harbour, dear]
        assert everything[0].offer is not None
        assert everything[0].offer.price.amount_minor == 800
        assert everything[0].owner is not None
        assert everything[0].owner.name == "Ines Duarte"
        assert [w.id for w in client.search(word, media_types=[MediaType.AUDIO])] == [song]
        assert [w.id for w in client.search(word, max_price_minor=1_500, tags=["painting"])] == [
            harbour
        ]
        assert [w.id for w in client.search(tags=[word], uses=["training"], sort="price_desc")] == [
            dear,
            harbour,
            song,
        ]
        assert next(iter(client.search(word, language="de")), None) is None
        assert client.work(harbour).title == f"Harbour {word}"

        purchase = client.buy([harbour, song], uses=[Use.TRAINING, "evaluation"], name="kelp set")
        assert (purchase.total.amount_minor, purchase.total.currency) == (2_000, "EUR")
        assert not purchase.replayed
        assert {line.work_id for line in purchase.lines} == {harbour, song}
        assert await eur_balance(gateway, lab) == 8_000

        delivery = client.wait_for_delivery(purchase.id, timeout=20)
        assert delivery.status is DeliveryStatus.ISSUED
        assert delivery.entry_count == 2
        assert [licence.id for licence in client.licences()] == [purchase.id]

        result = client.download(delivery.id, tmp_path / "bundle", parallel=2)
        assert result.ok, result.failed
        records = list(client.records(tmp_path / "bundle"))

    # Each record is the file on disk with the work it came from and the terms it was sold
    # under, the terms those the creator offered (their hash is the offer's terms id).
    offered = {work.id: work.offer for work in everything if work.offer is not None}
    assert {record.work_id for record in records} == {harbour, song}
    for record in records:
        expected = {harbour: harbour_bytes, song: song_bytes}[record.work_id]
        assert record.read_bytes() == expected
        assert record.sha256 == hashlib.sha256(expected).hexdigest()
        assert record.attribution == "Ines Duarte"
        assert record.terms_id == offered[record.work_id].terms_id
        assert record.terms == offered[record.work_id].terms
        assert set(record.terms.uses) == {Use.TRAINING, Use.EVALUATION}
        assert (record.terms.attribution_required, record.terms.duration_days) == (True, 365)
        assert (record.licence_id, record.delivery_id) == (purchase.id, delivery.id)
        assert record.buyer_name == "Kelp Lab"
    media = {record.work_id: record.media_type for record in records}
    assert media == {harbour: MediaType.IMAGE, song: MediaType.AUDIO}
    assert buyer_id == purchase.buyer_id


class LosingProxy(socketserver.ThreadingTCPServer):
    """A proxy in front of the gateway that delivers the first purchase to it and then
    hangs up instead of answering, as a dropped connection or a crashed load balancer
    would: the purchase happened, the buyer never heard."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.http = httpx.Client(timeout=30)
        self.purchases = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _ProxyHandler(socketserver.StreamRequestHandler):
    server: LosingProxy

    def handle(self) -> None:
        request_line = self.rfile.readline().decode()
        if not request_line:
            return
        method, path, _ = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        while (line := self.rfile.readline().decode()) not in ("\r\n", "\n", ""):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.rfile.read(int(headers.get("content-length", 0)))
        forwarded = {
            name: value
            for name, value in headers.items()
            if name in ("authorization", "content-type")
        }
        answer = self.server.http.request(
            method, self.server.upstream + path, headers=forwarded, content=body
        )
        with self.server.lock:
            is_purchase = b"purchase(" in body
            self.server.purchases += is_purchase
            lose = is_purchase and self.server.purchases == 1
        if lose:
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        head = (
            f"HTTP/1.1 {answer.status_code} {answer.reason_phrase}\r\n"
            f"content-type: {answer.headers.get('content-type', 'application/json')}\r\n"
            f"content-length: {len(answer.content)}\r\nconnection: close\r\n\r\n"
        )
        self.wfile.write(head.encode() + answer.content)


@contextmanager
def losing_proxy(upstream: str) -> Iterator[LosingProxy]:
    proxy = LosingProxy(upstream)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        proxy.http.close()


async def test_a_purchase_whose_answer_is_lost_is_retried_with_its_key_and_charged_once(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    _, creator = await register(gateway, "CREATOR", "Oskar Berg")
    work, _ = await listed(gateway, creator, title="Lost answer", price=1_500)
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Retry Lab", 5_000)

    with (
        losing_proxy(running_stack.stack.gateway_url) as proxy,
        AssentClient(proxy.url, lab) as client,
    ):
        purchase = client.buy([work], uses=USES)
    # The first attempt bought the licence and its answer was lost; the retry, under the
    # same key, was answered with that licence rather than buying again.
    assert proxy.purchases == 2
    assert purchase.replayed
    assert await eur_balance(gateway, lab) == 3_500

    with AssentClient(running_stack.stack.gateway_url, lab) as client:
        again = client.purchase(purchase.quote_id, idempotency_key=purchase.idempotency_key)
        assert (again.id, again.replayed) == (purchase.id, True)
        assert [licence.id for licence in client.licences()] == [purchase.id]
        # The same quote under another key is refused: it is bought already.
        with pytest.raises(Conflict) as bought:
            client.purchase(purchase.quote_id)
        assert bought.value.code == "QuotePurchased"
    assert await eur_balance(gateway, lab) == 3_500


async def test_refusals_are_typed_and_a_refused_purchase_can_be_bought_later_with_its_key(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    _, creator = await register(gateway, "CREATOR", "Mira Okafor")
    work, _ = await listed(gateway, creator, title="Too dear", price=3_000)
    buyer_id, lab = await funded_buyer(gateway, running_stack.admin_key, "Thrifty Lab", 1_000)
    url = running_stack.stack.gateway_url

    with AssentClient(url, lab) as client:
        with pytest.raises(NotFound):
            client.work(str(uuid.uuid4()))
        with pytest.raises(NotFound):
            client.licence(str(uuid.uuid4()))
        with pytest.raises(ValidationFailed) as invalid:
            client.create_bundle([], uses=USES)
        assert invalid.value.fields, invalid.value

        quote = client.quote(client.create_bundle([work], uses=USES).id)
        assert quote.total.amount_minor == 3_000
        with pytest.raises(InsufficientFunds):
            client.purchase(quote.id, idempotency_key="order-thrifty-1")
        assert await eur_balance(gateway, lab) == 1_000

        topped = await gateway.execute(
            TOP_UP,
            {"buyer": buyer_id, "amount": 5_000, "ref": f"wire-{uuid.uuid4().hex[:8]}"},
            key=running_stack.admin_key,
        )
        assert topped["topUp"]["__typename"] == "MoneyRecorded"
        bought = client.purchase(quote.id, idempotency_key="order-thrifty-1")
        assert not bought.replayed
    assert await eur_balance(gateway, lab) == 3_000

    with (
        AssentClient(url, "assent_unknown0_" + "x" * 40) as stranger,
        pytest.raises(Unauthenticated),
    ):
        next(iter(stranger.search("anything")))
    with AssentClient(url, "") as anonymous, pytest.raises(Unauthenticated):
        anonymous.licence(bought.id)


async def test_the_cli_searches_quotes_buys_again_safely_and_lists_licences_as_json(
    gateway: GraphQLClient, running_stack: RunningStack, tmp_path: Path
) -> None:
    word = f"fjord{uuid.uuid4().hex[:8]}"
    _, creator = await register(gateway, "CREATOR", "Sven Aalto")
    work, _ = await listed(gateway, creator, title=f"Fjord light {word}", price=700, tags=[word])
    _, lab = await funded_buyer(gateway, running_stack.admin_key, "Script Lab", 1_000)
    env = {
        **os.environ,
        "ASSENT_GATEWAY_URL": running_stack.stack.gateway_url,
        "ASSENT_API_KEY": lab,
    }

    async def run(*arguments: str) -> Any:
        finished = await run_cli(cli(*arguments, "--json"), env=env)
        assert finished.returncode in (0, 1), finished.stderr
        return finished.returncode, json.loads(finished.stdout)

    (code, found), (quoted, quote) = await asyncio.gather(
        run("search", word, "--use", "training", "--max-price", "1000"),
        run("quote", work, "--use", "training", "--use", "evaluation"),
    )
    assert code == 0
    assert [(w["id"], w["offer"]["price"]["amount_minor"]) for w in found] == [(work, 700)]
    assert (quoted, quote["total"], quote["excluded"]) == (
        0,
        {"amount_minor": 700, "currency": "EUR"},
        [],
    )

    key = f"order-{uuid.uuid4()}"
    code, first = await run("buy", "--quote", quote["id"], "--idempotency-key", key)
    assert code == 0
    assert first["licence"]["replayed"] is False
    assert (first["delivery"]["status"], first["delivery"]["entry_count"]) == ("issued", 1)
    licence_id, delivery_id = first["licence"]["id"], first["delivery"]["id"]

    # Independent runs side by side, to keep the test short: the same purchase again (as
    # JSON and as text), a new purchase the balance cannot pay, the licences, one licence.
    again, readable, (refused_code, refused), (_, held), shown = await asyncio.gather(
        run("buy", "--quote", quote["id"], "--idempotency-key", key),
        run_cli(cli("buy", "--quote", quote["id"], "--idempotency-key", key), env=env),
        run("buy", work, "--use", "training"),
        run("licences"),
        run_cli(cli("licence", licence_id), env=env),
    )
    assert again[0] == 0
    assert (again[1]["licence"]["id"], again[1]["licence"]["replayed"]) == (licence_id, True)
    assert await eur_balance(gateway, lab) == 300
    assert (refused_code, refused["error"]) == (1, "InsufficientFunds")
    assert [licence["id"] for licence in held] == [licence_id]
    assert held[0]["delivery"]["id"] == delivery_id

    # The readable forms name the licence, the delivery to download and the works.
    assert readable.returncode == 0, readable.stderr
    assert licence_id in readable.stdout
    assert f"assent download {delivery_id}" in readable.stdout
    assert shown.returncode == 0, shown.stderr
    assert f"Fjord light {word}" in shown.stdout

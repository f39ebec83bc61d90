"""Who publishes and who receives each topic: the outbox relays' streams follow from it."""

from services.contracts.events import PUBLISHERS, SUBSCRIBERS, Topic, receivers_of


def test_every_topic_has_one_publisher_and_its_receivers() -> None:
    assert set(PUBLISHERS) == set(Topic)
    assert set(SUBSCRIBERS) == set(Topic)


def test_a_service_relays_only_to_the_receivers_of_what_it_publishes() -> None:
    assert receivers_of("gateway") == {"catalogue", "licensing", "audit"}
    # The catalogue receives its own invitations, reviews and withdrawals, and licensing's
    # sales, to notify the creators they concern.
    assert receivers_of("catalogue") == {"catalogue", "licensing", "delivery", "audit"}
    assert receivers_of("licensing") == {"catalogue", "delivery", "audit"}
    assert receivers_of("delivery") == {"licensing", "audit"}
    # The audit log publishes nothing: its relay runs no stream at all.
    assert receivers_of("audit") == frozenset()

from services.kit import outbox


async def test_probe() -> None:
    print("WAKE LOOP", getattr(outbox._wake, "_loop", None))

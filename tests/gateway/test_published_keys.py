"""The published keys as a JWKS, and who may rotate a key through the gateway."""

import base64

from pydantic import SecretStr

from assent.protocol import Signer, generate_seed
from gateway.downloads import jwks_of
from services.contracts.signing import MANIFEST_KEY_PURPOSE
from services.kit.db import utcnow
from tests.fixtures.graphql import GraphQLClient


def test_the_jwks_holds_each_key_as_an_ed25519_okp_key_with_its_purpose_and_interval() -> None:
    signer = Signer(SecretStr(generate_seed()), purpose=MANIFEST_KEY_PURPOSE)
    until = utcnow()
    [jwk] = jwks_of([signer.published(valid_until=until)]).keys
    raw = base64.urlsafe_b64decode(jwk.x + "=" * (-len(jwk.x) % 4))
    assert raw == base64.b64decode(signer.public_key_b64)
    assert "=" not in jwk.x
    assert (jwk.kty, jwk.crv, jwk.alg, jwk.kid) == ("OKP", "Ed25519", "EdDSA", signer.key_id)
    assert (jwk.purpose, jwk.valid_from, jwk.valid_until) == (MANIFEST_KEY_PURPOSE, None, until)


async def test_only_an_admin_rotates_and_only_a_service_that_signs(
    client: GraphQLClient, admin_key: str
) -> None:
    anonymous = await client.http.post("/admin/keys/licensing/rotate")
    assert anonymous.status_code == 401
    auth = {"authorization": f"Bearer {admin_key}"}
    unknown = await client.http.post("/admin/keys/catalogue/rotate", headers=auth)
    assert unknown.status_code == 404
    assert "signs nothing" in unknown.json()["detail"]
    # The licensing service is not running here: the refusal says so, typed.
    down = await client.http.post("/admin/keys/licensing/rotate", headers=auth)
    assert down.status_code == 503
    assert down.json()["error"] == "ServiceUnavailable"
    jwks = await client.http.get("/.well-known/jwks.json")
    assert jwks.status_code == 503

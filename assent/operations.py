"""The GraphQL documents the client sends, each selecting what its model reads and every
failure member of the answer's union (`gateway/schema.graphql`)."""

_TERMS = "uses commercialUse attributionRequired territory durationDays exclusivityDays maxModels"
_MONEY = "amountMinor currency"
_WORK = f"""id title description mediaType tags language status listed createdAt withdrawnAt
  owner {{ id name }} shares {{ creator {{ id name }} basisPoints }}
  offer {{ id price {{ {_MONEY} }} termsId terms {{ {_TERMS} }} publishedAt }}
  currentVersion {{ fileName size sha256 preview {{ kind durationMs excerpt note imageUrl }} }}"""
_BUNDLE = "id name uses currency workIds createdAt"
_QUOTE = f"""id bundleId currency uses subtotal {{ {_MONEY} }} platformFee {{ {_MONEY} }}
  total {{ {_MONEY} }} platformFeeBps status createdAt expiresAt
  excluded {{ workId reason detail }}
  lines {{ workId versionId title mediaType fileName size sha256 offerId termsId
    terms {{ {_TERMS} }} price {{ {_MONEY} }} platformFee {{ {_MONEY} }}
    shares {{ creatorId creatorName basisPoints }} }}"""
_DELIVERY = """id licenceId status createdAt issuedAt keyId manifestSha256 entryCount
  excluded { workId reason detail }"""
_LICENCE = f"""id buyerId buyerName bundleId quoteId uses total {{ {_MONEY} }}
  platformFee {{ {_MONEY} }} refunded {{ {_MONEY} }} status grantedAt startsAt endsAt refundedAt
  lines {{ workId versionId title mediaType fileName size sha256 attribution termsId
    terms {{ {_TERMS} }} price {{ {_MONEY} }} startsAt endsAt status excludedReason }}
  delivery {{ {_DELIVERY} }}"""


def _failures(*members: str) -> str:
    """The selection of a union's failure members: every one's message, and the fields
    of those that carry more."""
    extra = {
        "ValidationFailed": "... on ValidationFailed { fields { field message code } }",
        "Conflict": "... on Conflict { code }",
        "ServiceUnavailable": "... on ServiceUnavailable { service }",
    }
    return " ".join(["... on Error { message }", *(extra[m] for m in members if m in extra)])


SEARCH = f"""query Search($filter: WorkFilter, $sort: SearchSort, $first: Int!, $after: String) {{
  works(filter: $filter, sort: $sort, first: $first, after: $after) {{ __typename
    ... on WorkConnection {{ nextCursor items {{ {_WORK} }} }}
    {_failures("ValidationFailed", "ServiceUnavailable")} }} }}"""
WORK = f"""query Work($id: ID!) {{ work(id: $id) {{ __typename
  ... on Work {{ {_WORK} }} {_failures("ServiceUnavailable")} }} }}"""
CREATE_BUNDLE = f"""mutation CreateBundle($input: CreateBundleInput!) {{
  createBundle(input: $input) {{ __typename ... on BundleCreated {{ bundle {{ {_BUNDLE} }} }}
    {_failures("ValidationFailed", "ServiceUnavailable")} }} }}"""
QUOTE_BUNDLE = f"""mutation QuoteBundle($id: ID!) {{ quoteBundle(bundleId: $id) {{ __typename
  ... on QuoteIssued {{ quote {{ {_QUOTE} }} }} {_failures("ServiceUnavailable")} }} }}"""
PURCHASE = f"""mutation Purchase($quote: ID!, $key: String!) {{
  purchase(quoteId: $quote, idempotencyKey: $key) {{ __typename
    ... on PurchaseSucceeded {{ replayed licence {{ {_LICENCE} }} }}
    {_failures("ValidationFailed", "Conflict", "ServiceUnavailable")} }} }}"""
LICENCE = f"""query Licence($id: ID!) {{ licence(id: $id) {{ __typename
  ... on Licence {{ {_LICENCE} certificate }} {_failures("ServiceUnavailable")} }} }}"""
LICENCES = f"""query Licences($first: Int!, $after: String) {{
  licences(first: $first, after: $after) {{ __typename
    ... on LicenceConnection {{ nextCursor items {{ {_LICENCE} }} }}
    {_failures("ServiceUnavailable")} }} }}"""
LICENCE_DELIVERY = f"""query LicenceDelivery($id: ID!) {{ licence(id: $id) {{ __typename
  ... on Licence {{ delivery {{ {_DELIVERY} }} }} {_failures("ServiceUnavailable")} }} }}"""
BALANCES = f"""query Balances {{ balances {{ __typename
  ... on Balances {{ ownerId balances {{ accountKind balance {{ {_MONEY} }} }} }}
  {_failures("ValidationFailed", "ServiceUnavailable")} }} }}"""
ME = f"""query Me {{ me {{ __typename ... on Account {{ id name email }}
  {_failures("ServiceUnavailable")} }} }}"""

DOCUMENTS = (
    SEARCH,
    WORK,
    CREATE_BUNDLE,
    QUOTE_BUNDLE,
    PURCHASE,
    LICENCE,
    LICENCES,
    LICENCE_DELIVERY,
    BALANCES,
    ME,
)

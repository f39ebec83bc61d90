// The GraphQL operations the portal sends (gateway/schema.graphql is the contract).

const ERROR = "... on Error { message }";
const INVALID = "... on Error { message } ... on ValidationFailed { fields { field message code } }";

export const ME = `query Me { me { __typename
  ... on Account { id name roles } ... on Unauthenticated { message } } }`;

// What tells a member's view apart: who owns the work, the shares, why it is not for sale.
const MEMBERS = `owner { id name } shares { creator { id name } basisPoints }
  saleStatus { code detail creator { id name } }`;

export const MY_WORKS = `query MyWorks($after: String) {
  works(filter: {mine: true}, sort: NEWEST, first: 50, after: $after) { __typename
    ... on WorkConnection { nextCursor items { id title status listed ${MEMBERS}
        offer { price { amountMinor currency } terms { uses } } consent { kind uses givenBy } } }
    ${INVALID} } }`;

// What buyers see of a file: a thumbnail or waveform (a short-lived URL), an excerpt, or why not.
const PREVIEW = "preview { kind imageUrl durationMs excerpt note }";

export const WORK = `query Work($id: ID!) { work(id: $id) { __typename
  ... on Work { id title description mediaType tags status listed createdAt withdrawnAt ${MEMBERS}
    currentVersion { fileName size sha256 status ${PREVIEW} }
    history { number title changed editedBy editedAt }
    pendingVersion { fileName size sha256 status failureReason }
    consent { kind uses statementId statementVersion givenAt givenBy }
    offer { price { amountMinor currency } publishedAt
      terms { uses commercialUse attributionRequired territory durationDays } } }
  ${ERROR} } }`;

const TARGET = `workId method partSize partCount
  put { url headers { name value } } uploadedParts { partNumber size }`;

export const CREATE_WORK = `mutation CreateWork($input: CreateWorkInput!) {
  createWork(input: $input) { __typename
    ... on WorkCreated { work { id title } upload { ${TARGET} } }
    ${INVALID} } }`;

export const UPLOAD_TARGET = `query UploadTarget($id: ID!) { uploadTarget(workId: $id) { __typename
  ... on UploadTarget { ${TARGET} } ... on Conflict { code } ${ERROR} } }`;

export const PRESIGN_PARTS = `mutation PresignParts($id: ID!, $parts: [PartInput!]!) {
  presignUploadParts(workId: $id, parts: $parts) { __typename
    ... on PartsPresigned { parts { partNumber url headers { name value } } }
    ${INVALID} } }`;

export const COMPLETE_UPLOAD = `mutation CompleteUpload($id: ID!) { completeUpload(workId: $id) {
  __typename ... on UploadCompleted { work { id status } }
  ... on UploadRejected { reason work { id status } } ${INVALID} } }`;

export const CONSENT_STATEMENTS = `query ConsentStatements {
  consentStatements { id version scope current text } }`;

export const GIVE_CONSENT = `mutation GiveConsent($id: ID!, $input: ConsentInput!) {
  giveConsent(workId: $id, input: $input) { __typename
    ... on ConsentRecorded { consent { kind uses } } ${INVALID} } }`;

export const WITHDRAW_CONSENT = `mutation WithdrawConsent($id: ID!, $statementId: String!,
  $statementVersion: String!) {
  withdrawConsent(workId: $id, statementId: $statementId, statementVersion: $statementVersion) {
    __typename ... on ConsentRecorded { consent { kind } } ${INVALID} } }`;

export const INVITATIONS = `query Invitations { invitations { __typename
  ... on InvitationList { items { id status basisPoints work { id } invitedBy { name } } }
  ${ERROR} } }`;

const ANSWER = `__typename ... on InvitationAnswerRecorded { invitation { id status } } ${ERROR}`;

export const ACCEPT_INVITATION = `mutation AcceptInvitation($id: ID!) {
  acceptInvitation(id: $id) { ${ANSWER} } }`;

export const DECLINE_INVITATION = `mutation DeclineInvitation($id: ID!) {
  declineInvitation(id: $id) { ${ANSWER} } }`;

export const SET_OFFER = `mutation SetOffer($id: ID!, $input: OfferInput!) {
  setOffer(workId: $id, input: $input) { __typename
    ... on OfferSet { offer { price { amountMinor currency } } } ${INVALID} } }`;

export const UPDATE_WORK = `mutation UpdateWork($id: ID!, $input: UpdateWorkInput!) {
  updateWork(workId: $id, input: $input) { __typename
    ... on WorkUpdated { work { id title } } ${INVALID} } }`;

export const REPLACE_WORK_FILE = `mutation ReplaceWorkFile($id: ID!, $file: FileInput!) {
  replaceWorkFile(workId: $id, file: $file) { __typename
    ... on VersionStarted { upload { ${TARGET} } } ${INVALID} } }`;

export const INVITE_CO_CREATOR = `mutation InviteCoCreator($id: ID!, $email: String!, $points: Int!) {
  inviteCoCreator(workId: $id, email: $email, basisPoints: $points) {
    __typename ... on CoCreatorInvited { message } ${INVALID} } }`;

export const WITHDRAW_WORK = `mutation WithdrawWork($id: ID!) { withdrawWork(workId: $id) {
  __typename ... on WorkWithdrawn { work { id status listed } } ${ERROR} } }`;

export const EARNINGS = `query Earnings($period: Period!) { earnings(period: $period) {
  __typename
  ... on Earnings {
    byPeriod { periodStart amount { amountMinor currency } }
    byWork { workId title licences amount { amountMinor currency } }
    owed { amountMinor currency }
    lines { licenceId workId buyerName uses kind recordedAt refundExplanation
      price { amountMinor currency } platformFee { amountMinor currency }
      net { amountMinor currency }
      coCreators { creatorName basisPoints amount { amountMinor currency } }
      amount { amountMinor currency } } }
  ${INVALID} } }`;

export const CHAIN = `query Chain($id: ID!) { licenceChain(workId: $id) { __typename
  ... on LicenceChain { pendingEntries document
    checkpoint { treeSize rootHash issuedAt keyId note witnesses }
    entries { index step topic occurredAt entry leafHash inclusionProof eventSha256
      links { kind id previous { index leafHash } } } }
  ${INVALID} } }`;

// Which lab trained which model on a work: its creators alone see it.
export const TRAINED_MODELS = `query TrainedModels($ids: [ID!]!) { trainedModels(workIds: $ids) {
  __typename ... on TrainedModelList { items { labName modelName modelVersion recordedAt } }
  ... on Error { message } } }`;

// Payouts: the bank account a creator is paid to, confirmed from a mailed code, and the
// transfers made to it.
export const PAYOUT_ACCOUNTS = `query PayoutAccounts { payoutAccounts { __typename
  ... on PayoutAccountList { items { id holder iban bic state requestedAt confirmedAt } }
  ... on Error { message } } }`;

export const SET_PAYOUT_ACCOUNT = `mutation SetPayoutAccount($holder: String!, $iban: String!,
  $bic: String!) { setPayoutAccount(holder: $holder, iban: $iban, bic: $bic) { __typename
  ... on PayoutAccount { id holder iban bic state } ${INVALID} } }`;

export const CONFIRM_PAYOUT_ACCOUNT = `mutation ConfirmPayoutAccount($id: ID!, $code: String!) {
  confirmPayoutAccount(accountId: $id, code: $code) { __typename
  ... on PayoutAccount { id holder iban bic state } ${INVALID} } }`;

export const PAYOUTS = `query Payouts { payouts(first: 50) { __typename
  ... on PayoutPaymentList { items { endToEndId state returnReason settledAt holder iban
    amount { amountMinor currency } } }
  ... on Error { message } } }`;

// A statement for a period: each sale, refund and payout, and what was owed at each end.
export const STATEMENT = `query Statement($since: DateTime, $until: DateTime) {
  earnings(since: $since, until: $until) { __typename
  ... on Earnings {
    lines { title buyerName uses kind recordedAt basisPoints licenceId
      price { amountMinor currency } platformFee { amountMinor currency }
      net { amountMinor currency } refundExplanation
      coCreators { creatorName basisPoints amount { amountMinor currency } }
      amount { amountMinor currency } }
    payouts { reference recordedAt amount { amountMinor currency } }
    opening { amountMinor currency } closing { amountMinor currency } }
  ${INVALID} } }`;

// API keys, for programs: made, listed by their prefix, revoked.
export const API_KEYS = `query ApiKeys { me { __typename ... on Account {
  apiKeys(first: 50) { __typename
    ... on ApiKeyPage { items { id name prefix createdAt lastUsedAt revokedAt } }
    ... on Error { message } } } } }`;

export const CREATE_API_KEY = `mutation CreateApiKey($name: String!) { createApiKey(name: $name) {
  __typename ... on ApiKeyCreated { apiKey { secret key { id name prefix } } } ${INVALID} } }`;

export const REVOKE_API_KEY = `mutation RevokeApiKey($id: ID!) { revokeApiKey(id: $id) {
  __typename ... on ApiKeyRevoked { key { id name prefix revokedAt } } ... on Error { message } } }`;

from graphql import GraphQLError


class DocumentRefused(GraphQLError):
    """A document refused for its shape, with a code a client can act on."""

    def __init__(self, message: str, code: str, **details: int) -> None:
        super().__init__(message, extensions={"code": code, **details})

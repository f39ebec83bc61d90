"""The catalogue's queries and mutations, one module per aggregate, composed here in the
order the schema lists them."""

import strawberry

from gateway.resolvers.catalogue._co_creators import CoCreatorMutation, CoCreatorQuery
from gateway.resolvers.catalogue._inputs import work_search
from gateway.resolvers.catalogue._review import ReviewQuery
from gateway.resolvers.catalogue._terms import TermsMutation, TermsQuery
from gateway.resolvers.catalogue._upload import UploadMutation, UploadQuery
from gateway.resolvers.catalogue._work import WorkMutation, WorkQuery


@strawberry.type
class CatalogueQuery(WorkQuery, UploadQuery, TermsQuery, CoCreatorQuery, ReviewQuery):
    pass


@strawberry.type
class CatalogueMutation(UploadMutation, TermsMutation, WorkMutation, CoCreatorMutation):
    pass


__all__ = ["CatalogueMutation", "CatalogueQuery", "work_search"]

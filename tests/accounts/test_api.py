"""The accounts API documents its errors like every other API: one shared ``Error`` schema."""

from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator


def test_the_delete_my_data_api_documents_the_shared_error_body():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    answer = schema["paths"]["/api/me/delete-data/"]["post"]["responses"]["400"]
    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["properties"] == {"error": {"type": "string"}}
